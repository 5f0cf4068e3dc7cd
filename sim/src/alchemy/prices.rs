//! `GET /{apiKey}/tokens/by-symbol?symbols=ETH&symbols=BTC`: the USD price of each symbol, in the
//! order asked (repeats included), as `{"data":[{"symbol","prices":[{"currency":"usd",
//! "value":"3200.50","lastUpdatedAt":"2026-06-23T00:00:00Z"}],"error":null}]}`; HTTP 200 even
//! when some are unknown.
//!
//! A symbol names the best-ranked listed coin holding that ticker, case-insensitively (copycats
//! and bridged tokens share tickers), at the market's current step: the price CoinGecko serves
//! for that coin at the same moment. `value` has 15 significant digits in plain notation, the
//! same text as CoinGecko's `precision=full`; `lastUpdatedAt` is when the step began. `symbol`
//! echoes the request. An unknown symbol gets `"prices":[]` and `"error":{"message":...}` (the
//! SDK's shape; the OpenAPI says a string: UNCONFIRMED which the live API sends, and its text).
//! Only `symbols` counts: the `symbols[]=` spelling some clients send names no symbol.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::{Message, error, json};
use crate::market::now_unix_ms;
use crate::number::significant;
use crate::state::{SimState, lock};
use crate::stats::Refusal;
use crate::time::iso8601_secs;
use crate::{Provider, Served};

/// Symbols per request, as the OpenAPI documents ("limit 25").
const MAX_SYMBOLS: usize = 25;
/// Significant digits of `value` (CoinGecko's `precision=full` has as many).
const VALUE_DIGITS: usize = 15;

const NOT_FOUND: &str = "Token not found";
const KEY_REJECTED: &str = "Invalid API key";
const NO_SYMBOLS: &str = "At least one symbol is required: ?symbols=ETH&symbols=BTC";

#[derive(Debug, Serialize)]
struct Body {
    data: Vec<Token>,
}

#[derive(Debug, Serialize)]
struct Token {
    symbol: String,
    prices: Vec<Price>,
    error: Option<Message<'static>>,
}

#[derive(Debug, Serialize)]
struct Price {
    currency: &'static str,
    value: String,
    #[serde(rename = "lastUpdatedAt")]
    last_updated_at: String,
}

pub(super) async fn by_symbol(
    State(state): State<Arc<SimState>>,
    Path(api_key): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    if !state.accepts_required_key(Some(&api_key)) {
        lock(&state.stats).record_refusal(Provider::Alchemy, Refusal::Auth);
        return error(StatusCode::UNAUTHORIZED, KEY_REJECTED);
    }
    let Ok(Query(params)) = query else {
        return error(StatusCode::BAD_REQUEST, "Invalid query");
    };
    let symbols: Vec<&str> = params
        .iter()
        .filter(|(name, _)| name == "symbols")
        .map(|(_, symbol)| symbol.as_str())
        .collect();
    if symbols.is_empty() {
        return error(StatusCode::BAD_REQUEST, NO_SYMBOLS);
    }
    if symbols.len() > MAX_SYMBOLS {
        let message = format!(
            "Too many symbols: {} requested, at most {MAX_SYMBOLS} allowed",
            symbols.len()
        );
        return error(StatusCode::BAD_REQUEST, &message);
    }
    let (coins, _) = state.market.ranked();
    let data: Vec<Token> = symbols
        .iter()
        .map(|&symbol| {
            // Ranked best first: the first holder of the ticker is the best-ranked one.
            let coin = coins
                .iter()
                .find(|c| c.info.symbol.eq_ignore_ascii_case(symbol));
            let (prices, error) = match coin {
                Some(coin) => (
                    vec![Price {
                        currency: "usd",
                        value: significant(coin.quote.price_usd, VALUE_DIGITS),
                        last_updated_at: iso8601_secs(coin.quote.updated_at_unix_secs),
                    }],
                    None,
                ),
                None => (Vec::new(), Some(Message { message: NOT_FOUND })),
            };
            Token {
                symbol: symbol.to_owned(),
                prices,
                error,
            }
        })
        .collect();
    record(&state, &data);
    json(&Body { data })
}

/// Records each found symbol's `value` by the symbol upper-cased.
fn record(state: &SimState, data: &[Token]) {
    let served: Vec<(String, String)> = data
        .iter()
        .filter_map(|t| {
            Some((
                t.symbol.to_ascii_uppercase(),
                t.prices.first()?.value.clone(),
            ))
        })
        .collect();
    if served.is_empty() {
        return;
    }
    let mut all = lock(&state.served);
    let prices = served.iter().map(|(s, v)| (s.as_str(), v.clone()));
    Served::record(&mut all.alchemy, now_unix_ms(), prices);
}
