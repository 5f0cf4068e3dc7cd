//! CoinLore, as served at `{root}/api/tickers/`, `{root}/api/ticker/` and `{root}/api/global/`
//! (each also without the trailing slash): a client's CoinLore base
//! URL is `http://HOST:PORT/api` (the real one is `https://api.coinlore.net/api`). These paths do
//! not collide with CoinGecko's `/api/v3`. Wire formats follow providers.md §7.
//!
//! CoinLore's own error and rate-limit answers are undocumented (UNCONFIRMED in providers.md);
//! the sim answers an outage or injected error with a plain 503 and the per-minute limit with a
//! plain 429 and `Retry-After`, and an unknown `/ticker/` id with `[]`.

mod global;
mod tickers;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

use crate::Provider;
use crate::faults::{self, Refused, plain};
use crate::state::SimState;

/// A client's CoinLore base URL ends with it.
pub(crate) const BASE_PATH: &str = "/api";

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let endpoints = Router::new()
        .route("/tickers/", get(tickers::tickers))
        .route("/tickers", get(tickers::tickers))
        .route("/ticker/", get(tickers::ticker))
        .route("/ticker", get(tickers::ticker))
        .route("/global/", get(global::global))
        .route("/global", get(global::global));
    faults::gated(state, Provider::CoinLore, BASE_PATH, endpoints, refuse)
}

fn refuse(_: &SimState, refused: Refused) -> Response {
    match refused {
        Refused::RateLimited { retry_after_secs } => {
            let mut response = plain(StatusCode::TOO_MANY_REQUESTS);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Refused::Down | Refused::InjectedError => plain(StatusCode::SERVICE_UNAVAILABLE),
    }
}
