//! Etherscan API V2, as served at `{root}/etherscan/v2/api` (so a client's Etherscan base is
//! `http://HOST:PORT/etherscan`, or its full endpoint `http://HOST:PORT/etherscan/v2/api`), plus
//! the deprecated V1 path `{root}/etherscan/api`. Wire formats follow providers.md §2.
//!
//! Supported `chainid`s: 1, 10, 56, 137, 8453, 42161, each with its own ledgers. A request is checked in this order: faults (outage → HTML 503,
//! per-minute limit → `Max rate limit reached`), `chainid`, `apikey` (always required), the
//! per-second limit (`Faults::etherscan_calls_per_sec`, default 5), then `module`/`action`.
//! Every refusal but an outage is HTTP 200 with `status` "0".

mod account;
mod address;
mod ledger;
mod pagination;
mod responses;
mod summary;
mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tokio::time::Instant;

pub(crate) use ledger::Ledgers;
pub use summary::{LedgerSummary, NormalTotals, TokenNet, TokenTotals};

use crate::Provider;
use crate::faults::{self, Refused};
use crate::state::{SimState, lock};
use crate::stats::Refusal;

/// Where the API lives on the sim; a client's Etherscan base URL ends with it.
pub(crate) const BASE_PATH: &str = "/etherscan";
/// Ethereum, OP, BNB Chain, Polygon, Base, Arbitrum.
pub(crate) const SUPPORTED_CHAINS: &[u64] = &[1, 10, 56, 137, 8453, 42161];

type Params = Query<HashMap<String, String>>;

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let endpoints = Router::new()
        .route("/v2/api", get(api))
        .route("/api", get(v1))
        .route_layer(middleware::from_fn_with_state(state, gate));
    Router::new()
        .nest(BASE_PATH, endpoints)
        .route("/sim/etherscan/ledger/{address}", get(summary::ledger))
}

async fn gate(
    State(state): State<Arc<SimState>>,
    path: MatchedPath,
    Query(params): Params,
    request: Request,
    next: Next,
) -> Response {
    let auth = if params.contains_key("apikey") {
        "apikey"
    } else {
        "none"
    };
    match faults::admit(&state, Provider::Etherscan, path.as_str(), auth).await {
        Ok(()) => next.run(request).await,
        Err(Refused::RateLimited { .. }) => responses::notok(responses::MAX_RATE),
        Err(Refused::Down | Refused::InjectedError) => responses::unavailable(),
    }
}

async fn v1() -> Response {
    responses::notok(responses::DEPRECATED_V1)
}

async fn api(State(state): State<Arc<SimState>>, Query(params): Params) -> Response {
    let param = |name: &str| params.get(name).map(String::as_str);
    let Some(chain) = param("chainid").and_then(|c| c.trim().parse::<u64>().ok()) else {
        return responses::notok(responses::MISSING_CHAINID);
    };
    if !SUPPORTED_CHAINS.contains(&chain) {
        return responses::notok(responses::MISSING_CHAINID);
    }
    if !state.accepts_required_key(param("apikey")) {
        lock(&state.stats).record_refusal(Provider::Etherscan, Refusal::Auth);
        return responses::notok(responses::INVALID_KEY);
    }
    let limit = lock(&state.faults).etherscan_calls_per_sec;
    if lock(&state.etherscan_calls)
        .try_take(Instant::now(), 1, limit)
        .is_err()
    {
        lock(&state.stats).record_refusal(Provider::Etherscan, Refusal::RateLimited);
        return responses::max_calls_per_sec(limit);
    }
    if param("module") != Some("account") {
        return responses::notok(responses::INVALID_MODULE);
    }
    match account::Action::parse(param("action")) {
        Some(action) => account::answer(&state, chain, action, &params),
        None => responses::notok(responses::INVALID_ACTION),
    }
}
