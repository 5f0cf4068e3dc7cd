//! `POST /v1/admin/queues/{queue}/pause` and `.../resume`: no worker replica fetches from a
//! paused queue until it is resumed; what waits keeps waiting, what runs finishes, enqueue goes
//! on. Both are idempotent: pausing a paused queue keeps the time it was first paused.

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    jobs::Queue,
    queue::{PauseChange, pause_queue, resume_queue},
};
use serde::Serialize;

use super::queue_param;
use crate::{ApiError, AppState};

/// A queue's pause flag after the call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuePauseView {
    queue: Queue,
    paused: bool,
    /// Since when (Redis's clock); `null` when it runs.
    paused_since: Option<DateTime<Utc>>,
    /// Whether this call changed anything.
    changed: bool,
}

/// `POST /v1/admin/queues/{queue}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    queue: Result<Path<String>, PathRejection>,
) -> Result<Json<QueuePauseView>, ApiError> {
    let queue = parse(queue)?;
    let name = queue.name();
    let change = state
        .redis(pause_queue(&state.queue_conn(&name), state.keys(), &name))
        .await?;
    Ok(Json(view(queue, change, !change.was_paused)))
}

/// `POST /v1/admin/queues/{queue}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    queue: Result<Path<String>, PathRejection>,
) -> Result<Json<QueuePauseView>, ApiError> {
    let queue = parse(queue)?;
    let name = queue.name();
    let change = state
        .redis(resume_queue(&state.queue_conn(&name), state.keys(), &name))
        .await?;
    Ok(Json(view(queue, change, change.was_paused)))
}

fn parse(queue: Result<Path<String>, PathRejection>) -> Result<Queue, ApiError> {
    let Path(raw) = queue.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    queue_param(&raw)
}

fn view(queue: Queue, change: PauseChange, changed: bool) -> QueuePauseView {
    QueuePauseView {
        queue,
        paused: change.paused_since.is_some(),
        paused_since: change.paused_since,
        changed,
    }
}
