//! CoinCap (providers.md §4): its prices stream at `{root}/coincap/prices` (a WebSocket; the
//! real one is `wss://wss.coincap.io/prices`), and its REST v3 at `{root}/coincap/v3`
//! (`/assets`, `/assets/{id}`; the real base is `https://rest.coincap.io/v3`). Coins are named
//! by CoinCap's ids: the simulator's catalogue ids (CoinGecko's: `bitcoin`, `ethereum`) but for
//! the few where CoinCap's differ ([`COINCAP_IDS`]: `binance-coin` for `binancecoin`).
//!
//! Both share `Provider::CoinCap`'s faults, limits and counters. The stream's refusals are plain
//! text (`down` refuses an upgrade with 503; an open stream stays open); the REST ones are JSON
//! (see `rest`).

mod assets;
mod rest;
mod stream;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
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
/// Where CoinCap's REST v3 lives on the sim; a client's CoinCap REST base URL ends with it.
pub(crate) const REST_BASE_PATH: &str = "/coincap/v3";

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let stream = Router::new().route("/prices", get(stream::prices));
    // The key check runs inside the gate, so a refused request is counted first, as on CoinGecko.
    let api = Router::new()
        .route("/assets", get(assets::list))
        .route("/assets/{id}", get(assets::one))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            rest::require_key,
        ));
    let api = faults::gated_as(
        Arc::clone(&state),
        Provider::CoinCap,
        REST_BASE_PATH,
        api,
        rest::auth_label,
        rest::refuse,
    );
    faults::gated(state, Provider::CoinCap, BASE_PATH, stream, refuse).merge(api)
}

/// The stream's refusals, before an upgrade.
fn refuse(_: &SimState, refused: Refused) -> Response {
    match refused {
        Refused::RateLimited { .. } => plain(StatusCode::TOO_MANY_REQUESTS),
        Refused::Down | Refused::InjectedError => plain(StatusCode::SERVICE_UNAVAILABLE),
    }
}
