//! CoinCap's prices stream (providers.md §4), as served at `{root}/coincap/prices` (a
//! WebSocket; the real one is `wss://wss.coincap.io/prices`). Coins are named by CoinCap's ids:
//! the simulator's catalogue ids (CoinGecko's: `bitcoin`, `ethereum`) but for the few where
//! CoinCap's differ ([`COINCAP_IDS`]: `binance-coin` for `binancecoin`).

mod stream;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::Provider;
use crate::faults::{self, Refused, plain};
use crate::state::SimState;

/// (CoinCap id, catalogue id) where they differ.
const COINCAP_IDS: [(&str, &str); 2] = [
    ("binance-coin", "binancecoin"),
    ("avalanche", "avalanche-2"),
];

/// The catalogue id of the coin CoinCap calls `wire`.
fn catalogue_id(wire: &str) -> &str {
    COINCAP_IDS
        .iter()
        .find(|(c, _)| *c == wire)
        .map_or(wire, |(_, id)| id)
}

/// CoinCap's id of the catalogue's coin `coin`.
fn coincap_id(coin: &str) -> &str {
    COINCAP_IDS
        .iter()
        .find(|(_, id)| *id == coin)
        .map_or(coin, |(c, _)| c)
}

/// Where CoinCap's stream lives on the sim; a client's CoinCap stream base URL ends with it.
pub(crate) const BASE_PATH: &str = "/coincap";

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let endpoints = Router::new().route("/prices", get(stream::prices));
    faults::gated(state, Provider::CoinCap, BASE_PATH, endpoints, refuse)
}

fn refuse(_: &SimState, refused: Refused) -> Response {
    match refused {
        Refused::RateLimited { .. } => plain(StatusCode::TOO_MANY_REQUESTS),
        Refused::Down | Refused::InjectedError => plain(StatusCode::SERVICE_UNAVAILABLE),
    }
}
