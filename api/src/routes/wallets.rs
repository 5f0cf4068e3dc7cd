//! `GET /v1/wallets/{address}` (the cached analysis with its age and staleness) and
//! `POST /v1/wallets/{address}/analyze` (enqueue a `wallet` job).
//!
//! The address is checked here, at the edge: `0x` + 40 hex digits, all-lowercase or
//! all-uppercase, or mixed case with a valid EIP-55 checksum; anything else is 422 with the
//! reason. `?chain=` picks the chain (default `wallets.chain`, i.e. `ethereum`).

use axum::{
    Extension, Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{Freshness, WalletAnalysis},
    domain::{Address, Chain},
    jobs::Queue,
    queue::EnqueueOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::{
    ApiError, AppState,
    auth::Caller,
    cache_reads::Kind,
    on_demand::{self, Accepted, Fresh, Outcome},
};

#[derive(Debug, Deserialize, IntoParams)]
pub struct ChainQuery {
    /// The chain (default: `wallets.chain`, ethereum unless configured).
    #[param(value_type = Option<Chain>)]
    chain: Option<String>,
    /// `analyze` only: enqueue even when a fresh analysis is cached.
    #[serde(default)]
    #[param(value_type = Option<bool>)]
    force: bool,
}

/// A cached analysis as the API shows it: the record, the EIP-55 form of the address, and its
/// age and staleness (older than `wallets.fresh_secs`).
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletView<'a> {
    #[serde(flatten)]
    #[schema(value_type = WalletAnalysis)]
    analysis: &'a WalletAnalysis,
    checksum_address: String,
    age_seconds: u64,
    pub stale: bool,
}

impl<'a> WalletView<'a> {
    pub fn new(analysis: &'a WalletAnalysis, now: DateTime<Utc>, state: &AppState) -> Self {
        let freshness = Freshness::assess(
            analysis.fetched_at,
            now,
            state.settings().wallets.fresh_for(),
        );
        Self {
            checksum_address: analysis.address.checksummed(),
            analysis,
            age_seconds: freshness.age_seconds,
            stale: freshness.stale,
        }
    }
}

/// An analysis on its way: the task, and where to read the analysis once it is done.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalysisAccepted<'a> {
    #[serde(flatten)]
    #[schema(value_type = Accepted)]
    task: &'a Accepted,
    chain: Chain,
    address: Address,
    /// Where the analysis appears once the task is done.
    analysis_url: String,
}

/// What `POST /v1/wallets/{address}/analyze` answers: the task, or the fresh analysis.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AnalyzeAnswer<'a> {
    Task(AnalysisAccepted<'a>),
    Fresh(Fresh),
}

fn parse(
    state: &AppState,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<(Chain, Address, bool), ApiError> {
    let Path(raw) = address.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let address = Address::parse(&raw)?;
    // An empty `chain=` names no chain: refused like any other unknown name (the document's
    // enum), not read as the default.
    let chain = match query.chain.as_deref() {
        None => state.settings().wallets.chain,
        Some(name) => name.parse()?,
    };
    Ok((chain, address, query.force))
}

/// `GET /v1/wallets/{address}[?chain=ethereum]`: the cached analysis, or 404
/// `not_analysed_yet` saying how to request one, or 422 `invalid_address` / `invalid_chain`.
pub async fn one(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (chain, address, _) = parse(&state, address, query)?;
    let analysis = state.redis(state.wallets().get(chain, &address)).await?;
    state.cache_reads().count(Kind::Wallets, analysis.is_some());
    let Some(analysis) = analysis else {
        return Err(ApiError::WalletNotAnalysed { chain, address });
    };
    Ok(Json(WalletView::new(&analysis, Utc::now(), &state)).into_response())
}

/// `POST /v1/wallets/{address}/analyze[?chain=ethereum][&force=true]`: 202 with the task's id,
/// its status URL (also in `Location`) and where the analysis will appear; 200 with
/// `"deduplicated": true` and the task already analysing it; 200 `{"fresh": true, "data"}` when
/// a fresh analysis is cached (unless `force=true`). 422 for a bad address or chain, 429 when
/// the `wallet` queue is full.
pub async fn analyze(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    address: Result<Path<String>, PathRejection>,
    query: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (chain, address, force) = parse(&state, address, query)?;
    let args = json!({ "chain": chain, "address": address });
    let task = match on_demand::request(
        &state,
        &caller,
        Queue::Wallet,
        &args,
        force,
        EnqueueOptions::default(),
    )
    .await?
    {
        Outcome::Fresh(data) => return Ok(on_demand::fresh_response(Queue::Wallet, data)),
        Outcome::Task(task) => task,
    };
    Ok(task.respond(AnalysisAccepted {
        analysis_url: format!("/v1/wallets/{address}?chain={chain}"),
        chain,
        address,
        task: &task,
    }))
}
