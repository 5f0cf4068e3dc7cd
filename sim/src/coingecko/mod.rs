//! CoinGecko API v3, as served at `{base}/api/v3`: one file per endpoint, behind one gate that
//! injects faults and checks keys. Wire formats follow shared/reference/providers.md §1.

mod auth;
mod gate;
mod ping;
mod prices;
mod responses;
mod vs_currency;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;

use crate::state::SimState;

/// Where the API lives on the sim, as on `api.coingecko.com`; a client's base URL ends with it.
pub(crate) const BASE_PATH: &str = "/api/v3";

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let endpoints = Router::new()
        .route("/ping", get(ping::ping))
        .route("/simple/price", get(prices::simple_price))
        // A route layer runs after routing, so unknown paths are plain 404s that count nowhere.
        .route_layer(middleware::from_fn_with_state(state, gate::gate));
    Router::new().nest(BASE_PATH, endpoints)
}
