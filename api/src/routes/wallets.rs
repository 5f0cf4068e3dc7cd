//! `GET /v1/wallets/{address}` (the cached analysis with its age and staleness) and
//! `POST /v1/wallets/{address}/analyze` (enqueue a `wallet` job).
//!
//! The address is checked here, at the edge: `0x` + 40 hex digits, all-lowercase or
//! all-uppercase, or mixed case with a valid EIP-55 checksum; anything else is 422 with the
//! reason. `?chain=` picks the chain (default `wallets.chain`, i.e. `ethereum`).

use axum::{
    Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use coinbeat_shared::{
    cache::{Freshness, WalletAnalysis},
    domain::{Address, Chain},
    jobs::Queue,
    queue::EnqueueOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::tasks::{Accepted, enqueue};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
pub struct ChainQuery {
    chain: Option<String>,
}

/// A cached analysis as the API shows it: the record, the EIP-55 form of the address, and its
/// age and staleness (older than `wallets.fresh_secs`).
#[derive(Debug, Serialize)]
struct WalletView<'a> {
    #[serde(flatten)]
    analysis: &'a WalletAnalysis,
    checksum_address: String,
    age_seconds: u64,
    stale: bool,
}

#[derive(Debug, Serialize)]
struct AnalysisAccepted<'a> {
    #[serde(flatten)]
    task: &'a Accepted,
    chain: Chain,
    address: Address,
    /// Where the analysis appears once the task is done.
    analysis_url: String,
}

fn parse(
    state: &AppState,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<(Chain, Address), ApiError> {
    let Path(raw) = address.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let address = Address::parse(&raw)?;
    let chain = match query.chain.as_deref() {
        None | Some("") => state.settings().wallets.chain,
        Some(name) => name.parse()?,
    };
    Ok((chain, address))
}

/// `GET /v1/wallets/{address}[?chain=ethereum]`: the cached analysis, or 404
/// `not_analysed_yet` saying how to request one, or 422 `invalid_address` / `invalid_chain`.
pub async fn one(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (chain, address) = parse(&state, address, query)?;
    let Some(analysis) = state.redis(state.wallets().get(chain, &address)).await? else {
        return Err(ApiError::WalletNotAnalysed { chain, address });
    };
    let freshness = Freshness::assess(
        analysis.fetched_at,
        Utc::now(),
        state.settings().wallets.fresh_for(),
    );
    Ok(Json(WalletView {
        checksum_address: analysis.address.checksummed(),
        analysis: &analysis,
        age_seconds: freshness.age_seconds,
        stale: freshness.stale,
    })
    .into_response())
}

/// `POST /v1/wallets/{address}/analyze[?chain=ethereum]`: 202 with the task's id, its status
/// URL (also in `Location`) and where the analysis will appear. 422 for a bad address or chain,
/// 429 when the `wallet` queue is full.
pub async fn analyze(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (chain, address) = parse(&state, address, query)?;
    let args = json!({ "chain": chain, "address": address });
    let task = enqueue(&state, Queue::Wallet, &args, EnqueueOptions::default()).await?;
    Ok(task.respond(AnalysisAccepted {
        analysis_url: format!("/v1/wallets/{address}?chain={chain}"),
        chain,
        address,
        task: &task,
    }))
}
