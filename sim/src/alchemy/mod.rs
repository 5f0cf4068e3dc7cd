//! Alchemy's Prices API (providers.md §3), as served at `{root}/alchemy/prices/v1/{apiKey}/...`:
//! a client's base URL is `http://HOST:PORT/alchemy/prices/v1` (the real one is
//! `https://api.g.alchemy.com/prices/v1`), the key a path segment after it. Only
//! `GET /tokens/by-symbol` is served (not `by-address` nor `historical`), and only with the key in
//! the path: the OpenAPI's `Authorization: Bearer` alternative is UNCONFIRMED and not served.
//!
//! Refusals are `{"error":{"message":"..."}}` with a real HTTP status, checked in this order:
//! the per-minute and per-second limits (429, with `Retry-After`, whose presence is
//! UNCONFIRMED), an outage or injected error (503), the key (401), then the symbols (400: none,
//! or more than 25). The envelope, 400 and 429 are documented; 401, 503 and every message's text
//! are UNCONFIRMED.

mod prices;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::Provider;
use crate::faults::{self, Refused};
use crate::state::SimState;

/// Where the Prices API lives on the sim; a client's Alchemy base URL ends with it.
pub(crate) const BASE_PATH: &str = "/alchemy/prices/v1";

const RATE_LIMITED: &str = "Too many requests: rate limit exceeded";
const UNAVAILABLE: &str = "Service temporarily unavailable";

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let endpoints = Router::new().route("/{api_key}/tokens/by-symbol", get(prices::by_symbol));
    faults::gated_as(
        state,
        Provider::Alchemy,
        BASE_PATH,
        endpoints,
        // The key is a path segment; a request without one matches no route.
        |_| "path_key",
        refuse,
    )
}

fn refuse(_: &SimState, refused: Refused) -> Response {
    match refused {
        Refused::RateLimited { retry_after_secs } => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Refused::Down | Refused::InjectedError => {
            error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
        }
    }
}

/// The message of an error, at the top level or per token.
#[derive(Debug, Serialize)]
struct Message<'a> {
    message: &'a str,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: Message<'a>,
}

/// `status` with `{"error":{"message":"..."}}`.
fn error(status: StatusCode, message: &str) -> Response {
    let body = ErrorBody {
        error: Message { message },
    };
    (status, json(&body)).into_response()
}

/// 200 with a JSON body.
fn json<T: Serialize>(body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
