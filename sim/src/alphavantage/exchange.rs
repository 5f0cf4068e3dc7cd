//! `GET /query?function=CURRENCY_EXCHANGE_RATE&from_currency=USD&to_currency=EUR&apikey=KEY`:
//! `{"Realtime Currency Exchange Rate":{"1. From_Currency Code":"USD", ...,"9. Ask Price":"..."}}`,
//! every value a string, the keys numbered as the real API numbers them (providers.md §6).
//!
//! The rates are those of `rates` at the market's current step, with 8 decimals;
//! `6. Last Refreshed` is when that step began (`YYYY-MM-DD HH:MM:SS`, `7. Time Zone` UTC). The
//! real API also converts crypto codes (`BTC`): not served here, they get the invalid-call answer
//! like any unknown code.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Serialize;

use super::{INVALID_CALL, INVALID_KEY, error, fiat, json, quote};
use crate::market::now_unix_ms;
use crate::state::{SimState, lock};
use crate::stats::Refusal;
use crate::time::date_time_secs;
use crate::{Provider, Served};

const FUNCTION: &str = "CURRENCY_EXCHANGE_RATE";

#[derive(Debug, Serialize)]
struct Body {
    #[serde(rename = "Realtime Currency Exchange Rate")]
    rate: Rate,
}

#[derive(Debug, Serialize)]
struct Rate {
    #[serde(rename = "1. From_Currency Code")]
    from_code: &'static str,
    #[serde(rename = "2. From_Currency Name")]
    from_name: &'static str,
    #[serde(rename = "3. To_Currency Code")]
    to_code: &'static str,
    #[serde(rename = "4. To_Currency Name")]
    to_name: &'static str,
    #[serde(rename = "5. Exchange Rate")]
    rate: String,
    #[serde(rename = "6. Last Refreshed")]
    last_refreshed: String,
    #[serde(rename = "7. Time Zone")]
    time_zone: &'static str,
    #[serde(rename = "8. Bid Price")]
    bid: String,
    #[serde(rename = "9. Ask Price")]
    ask: String,
}

pub(super) async fn query(
    State(state): State<Arc<SimState>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let params = query.map(|q| q.0).unwrap_or_default();
    let param = |name: &str| params.get(name).map(String::as_str);
    if !state.accepts_required_key(param("apikey")) {
        lock(&state.stats).record_refusal(Provider::AlphaVantage, Refusal::Auth);
        return error(INVALID_KEY);
    }
    if param("function") != Some(FUNCTION) {
        return error(INVALID_CALL);
    }
    let from = param("from_currency").and_then(fiat);
    let to = param("to_currency").and_then(fiat);
    let (Some(from), Some(to)) = (from, to) else {
        return error(INVALID_CALL);
    };
    let (step, began_unix_secs) = state.market.step_now();
    let quote = quote(state.seed, step, from, to);
    let pair = format!("{}/{}", from.code, to.code);
    Served::record(
        &mut lock(&state.served).alphavantage,
        now_unix_ms(),
        [(pair.as_str(), quote.rate.clone())],
    );
    json(&Body {
        rate: Rate {
            from_code: from.code,
            from_name: from.name,
            to_code: to.code,
            to_name: to.name,
            rate: quote.rate,
            last_refreshed: date_time_secs(began_unix_secs),
            time_zone: "UTC",
            bid: quote.bid,
            ask: quote.ask,
        },
    })
}
