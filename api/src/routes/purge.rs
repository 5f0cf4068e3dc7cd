//! `POST /v1/admin/queues/{queue}/purge` (admin): every waiting task of the queue (ready and
//! delayed) deleted with its payload; tasks a worker holds run on.

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
    response::{IntoResponse, Response},
};
use coinbeat_shared::jobs::Queue;
use coinbeat_shared::queue::purge_waiting;
use serde::Serialize;

use super::queue_param;
use crate::{ApiError, AppState};

/// The waiting tasks of a queue, deleted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurgedWaiting {
    queue: Queue,
    /// Tasks that were ready to run.
    waiting: u64,
    /// Delayed tasks and tasks waiting for a retry.
    delayed: u64,
}

/// `{"queue", "waiting", "delayed"}`: how many of each were deleted. 404 `unknown_queue`.
pub async fn purge(
    State(state): State<AppState>,
    queue: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = queue.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let queue = queue_param(&raw)?;
    let report = state
        .redis(purge_waiting(
            &state.queue_conn(&queue.name()),
            state.keys(),
            &queue.name(),
        ))
        .await?;
    Ok(Json(PurgedWaiting {
        queue,
        waiting: report.waiting,
        delayed: report.delayed,
    })
    .into_response())
}
