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
    cache::{HealthReport, Status},
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
    /// PostgreSQL, the history that lasts, asked now by this API process.
    history_storage: HistoryHealth,
}

/// Whether history past Redis's points can be served.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryHealth {
    /// `off` (no `DATABASE_URL`: history from Redis only), `up` or `down`.
    status: HistoryStatus,
    /// The round trip of `SELECT 1`, when up.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum HistoryStatus {
    Off,
    Up,
    Down,
}

/// Asks PostgreSQL, within `history.timeout_ms`.
pub(crate) async fn history_health(state: &AppState) -> HistoryHealth {
    let Some(store) = state.history() else {
        return HistoryHealth {
            status: HistoryStatus::Off,
            latency_ms: None,
            error: None,
        };
    };
    let started = std::time::Instant::now();
    let timeout = state.settings().history.timeout();
    let error = match tokio::time::timeout(timeout, store.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {timeout:?}")),
    };
    HistoryHealth {
        status: if error.is_none() {
            HistoryStatus::Up
        } else {
            HistoryStatus::Down
        },
        latency_ms: error
            .is_none()
            .then(|| started.elapsed().as_millis() as u64),
        error,
    }
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
    let (streams, history_storage) = tokio::join!(
        state.redis(stream_state::load(state.conn(), state.keys())),
        history_health(&state)
    );
    let streams = streams?;
    // A shard off its primary source (or unowned) degrades the whole; the report's own parts
    // were judged by the health worker.
    report.status = report.status.max(stream_state::status(&streams));
    // Without PostgreSQL the API still serves every price and Redis's history: degraded.
    if history_storage.status == HistoryStatus::Down {
        report.status = report.status.max(Status::Degraded);
    }
    Ok(Json(ReportView {
        report,
        age_seconds,
        streams,
        history_storage,
    })
    .into_response())
}
