//! `GET /v1/health`: the latest report of the health worker, with its age. Each rate limiter
//! is named by its provider alone: the key fingerprint in a limiter's id is for the operator's
//! metrics, not for an answer anyone may be able to read.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::Utc;
use coinbeat_shared::{
    cache::HealthReport,
    stream_state::{self, ShardState},
};
use serde::Serialize;

use crate::{ApiError, AppState, cache_reads::Kind};

/// `GET /v1/health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportView {
    #[serde(flatten)]
    report: HealthReport,
    /// Seconds since the worker checked.
    age_seconds: u64,
    /// Each shard of the streamed symbols, as its stream-worker last said (read now, not by
    /// the health worker): empty when no stream-worker has run.
    streams: Vec<ShardState>,
}

/// `GET /v1/health`: 200 with the report (whatever its status), 404 `no_health_report` when
/// the health job has not run yet (or its report expired).
pub async fn latest(State(state): State<AppState>) -> Result<Response, ApiError> {
    let report = state
        .redis(HealthReport::load(state.conn(), state.keys()))
        .await?;
    state.cache_reads().count(Kind::Health, report.is_some());
    let mut report = report.ok_or(ApiError::NoHealthReport)?;
    for upstream in &mut report.upstreams {
        if let Some(limit) = &mut upstream.rate_limit {
            limit.snapshot.limiter = upstream.name.clone();
        }
    }
    let age_seconds = (Utc::now() - report.checked_at).num_seconds().max(0) as u64;
    let streams = state
        .redis(stream_state::load(state.conn(), state.keys()))
        .await?;
    // A shard off its primary source (or unowned) degrades the whole; the report's own parts
    // were judged by the health worker.
    report.status = report.status.max(stream_state::status(&streams));
    Ok(Json(ReportView {
        report,
        age_seconds,
        streams,
    })
    .into_response())
}
