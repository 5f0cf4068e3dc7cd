//! `GET /v1/queues/{queue}/history[?resolution=minute|hour&points=N]`: what a queue finished
//! (done, retried, throttled, dead) per minute over the last day or per hour over the last 30
//! days, oldest first; the dashboard draws it.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
};
use coinbeat_shared::{
    jobs::Queue,
    queue::{Bucket, Resolution, queue_history},
};
use serde::{Deserialize, Serialize};

use super::queue_param;
use crate::{ApiError, AppState};

/// The most buckets one answer has: a day of minutes.
const MAX_POINTS: u32 = 1_440;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// `minute` (the default; kept a day) or `hour` (kept 30 days).
    #[param(value_type = Option<String>, pattern = "^(minute|hour)$")]
    resolution: Option<String>,
    /// Buckets, newest last, 1 to 1440 (default: all kept). Minutes are kept a day (1440), hours
    /// 30 days (720): more hours than that answer the 720 kept.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1440)]
    points: Option<String>,
}

/// `GET /v1/queues/{queue}/history`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryView {
    queue: Queue,
    resolution: Resolution,
    /// Oldest first; the last is the bucket now under way.
    buckets: Vec<Bucket>,
}

/// 404 for an unknown queue, 422 for a resolution or a number of points that is not one (a
/// number the schema allows is never refused: past what the resolution keeps, it is capped).
pub async fn history(
    State(state): State<AppState>,
    queue: Result<Path<String>, PathRejection>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<HistoryView>, ApiError> {
    let Path(raw) = queue.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let queue = queue_param(&raw)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let resolution = match query.resolution.as_deref() {
        None | Some("minute") => Resolution::Minute,
        Some("hour") => Resolution::Hour,
        Some(other) => {
            return Err(ApiError::InvalidQuery(format!(
                "resolution must be minute or hour, got {other:?}"
            )));
        }
    };
    let points = match query.points.as_deref() {
        None => resolution.kept(),
        Some(raw) => raw
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_POINTS).contains(n))
            .map(|n| n.min(resolution.kept()))
            .ok_or_else(|| {
                ApiError::InvalidQuery(format!(
                    "points must be a whole number from 1 to {MAX_POINTS}, got {raw:?}"
                ))
            })?,
    };
    let name = queue.name();
    let buckets = state
        .redis(queue_history(
            &state.queue_conn(&name),
            state.keys(),
            &name,
            resolution,
            points,
        ))
        .await?;
    Ok(Json(HistoryView {
        queue,
        resolution,
        buckets,
    }))
}
