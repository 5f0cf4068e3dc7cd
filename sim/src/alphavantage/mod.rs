//! Alpha Vantage (providers.md §6), as served at `{root}/alphavantage/query`: a client's base URL
//! is `http://HOST:PORT/alphavantage` (the real one is `https://www.alphavantage.co`) and it asks
//! `{base}/query?function=...&apikey=KEY`. Only `function=CURRENCY_EXCHANGE_RATE` between the
//! fiat currencies of [`FIAT_CURRENCIES`] is served (see `exchange`).
//!
//! Every answer but an outage is HTTP 200 with JSON, as on the real API, checked in this order:
//! the per-minute, per-second and per-day limits (`{"Information":"Thank you for using Alpha
//! Vantage! ..."}`, no `Retry-After`), an outage or injected error (503 with a plain-text body:
//! UNCONFIRMED, the real API's outage answer is undocumented), the key (`{"Error Message":"the
//! parameter apikey is invalid or missing. ..."}`, counted as an auth failure), then the
//! function and currencies (`{"Error Message":"Invalid API call. ..."}`). Which of the key and
//! the parameters the real API checks first is UNCONFIRMED.

mod exchange;
mod rates;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

pub use rates::{FIAT_CURRENCIES, FiatCurrency};
pub(crate) use rates::{fiat, quote};

use crate::Provider;
use crate::faults::{self, Refused, plain};
use crate::state::SimState;

/// Where Alpha Vantage lives on the sim; a client's Alpha Vantage base URL ends with it.
pub(crate) const BASE_PATH: &str = "/alphavantage";

/// The free key's rate-limit answer, as captured in 2025 (providers.md §6, source AV1).
const RATE_LIMITED: &str = "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day) and instantly unlock all premium endpoints";
const INVALID_KEY: &str = "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds.";
/// Also the answer to an unknown function: the real API may name that function instead
/// (UNCONFIRMED).
const INVALID_CALL: &str = "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for CURRENCY_EXCHANGE_RATE.";

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let endpoints = Router::new().route("/query", get(exchange::query));
    faults::gated_as(
        state,
        Provider::AlphaVantage,
        BASE_PATH,
        endpoints,
        auth_label,
        refuse,
    )
}

/// `apikey` when the request names a non-blank one, `none` otherwise.
fn auth_label(request: &Request) -> &'static str {
    let query = Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    match query.get("apikey") {
        Some(key) if !key.trim().is_empty() => "apikey",
        _ => "none",
    }
}

fn refuse(_: &SimState, refused: Refused) -> Response {
    match refused {
        Refused::RateLimited { .. } => json(&Information {
            information: RATE_LIMITED,
        }),
        Refused::Down | Refused::InjectedError => plain(StatusCode::SERVICE_UNAVAILABLE),
    }
}

#[derive(Debug, Serialize)]
struct Information<'a> {
    #[serde(rename = "Information")]
    information: &'a str,
}

#[derive(Debug, Serialize)]
struct ErrorMessage<'a> {
    #[serde(rename = "Error Message")]
    message: &'a str,
}

/// 200 with `{"Error Message":"..."}`.
fn error(message: &str) -> Response {
    json(&ErrorMessage { message })
}

/// 200 with a JSON body.
fn json<T: Serialize>(body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
