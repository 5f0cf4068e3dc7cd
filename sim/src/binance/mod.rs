//! Binance spot market data, as served at `{root}/binance/api/v3` (so a client's Binance base URL
//! is `http://HOST:PORT/binance`): Binance's own paths start `/api/v3` like CoinGecko's, hence the
//! prefix. Wire formats follow providers.md §5.
//!
//! Every response carries `X-MBX-USED-WEIGHT-1M`; the weight limit per sliding minute is
//! `Faults::binance_weight_per_minute` (default 6000). The 418 auto-ban is not simulated.

mod ping;
mod responses;
mod stream;
mod symbols;
mod tickers;

use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use tokio::time::Instant;

use crate::Provider;
use crate::faults::{self, Refused};
use crate::state::{SimState, lock};

pub use symbols::Pair;
pub(crate) use symbols::listed;

/// Where the API's `/api/v3` lives on the sim; a client's Binance base URL ends with it.
pub(crate) const BASE_PATH: &str = "/binance";

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let endpoints = Router::new()
        .route("/api/v3/ping", get(ping::ping))
        .route("/api/v3/ticker/price", get(tickers::price))
        .route("/api/v3/ticker/24hr", get(tickers::day))
        .route("/stream", get(stream::combined));
    faults::gated(state, Provider::Binance, BASE_PATH, endpoints, refuse)
}

fn refuse(state: &SimState, refused: Refused) -> Response {
    let used = lock(&state.binance_weight).used_at(Instant::now());
    match refused {
        Refused::RateLimited { retry_after_secs } => {
            let limit = lock(&state.faults).rate_limit_per_minute;
            responses::too_much_weight(limit, retry_after_secs, used)
        }
        Refused::Down | Refused::InjectedError => responses::unavailable(used),
    }
}
