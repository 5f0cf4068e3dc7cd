//! CoinCap's prices stream (providers.md §4), as served at `{root}/coincap/prices` (a
//! WebSocket; the real one is `wss://wss.coincap.io/prices`). Coins are named by the simulator's
//! catalogue ids, which are CoinGecko's (`bitcoin`, `ethereum`); CoinCap's own differ for a few
//! coins (`binance-coin`), which a client maps.

mod stream;

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::Provider;
use crate::faults::{self, Verdict};
use crate::state::SimState;

/// Where CoinCap's stream lives on the sim; a client's CoinCap stream base URL ends with it.
pub(crate) const BASE_PATH: &str = "/coincap";

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let endpoints = Router::new()
        .route("/prices", get(stream::prices))
        .route_layer(middleware::from_fn_with_state(state, gate));
    Router::new().nest(BASE_PATH, endpoints)
}

async fn gate(
    State(state): State<Arc<SimState>>,
    path: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    match faults::admit(&state, Provider::CoinCap, path.as_str(), "none").await {
        Verdict::Pass => next.run(request).await,
        Verdict::RateLimited { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response()
        }
        Verdict::Down | Verdict::InjectedError => {
            (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
        }
    }
}
