//! One task that has not started, admin only: `DELETE /v1/admin/queues/{queue}/tasks/{id}`
//! deletes it, `POST /v1/admin/queues/{queue}/tasks/{id}/run` runs a delayed one now (or one
//! waiting for its next attempt). Dead tasks have their own routes ([`super::dead`]).
//!
//! 404 `unknown_queue` for a queue that is not a product queue, 404 `task_not_found` for an id
//! the queue does not know, 409 `task_not_waiting` (with its `status`) for a task that runs or
//! has finished.

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
    response::{IntoResponse, Response},
};
use coinbeat_shared::{
    jobs::Queue,
    queue::{TaskId, TaskStatus, WaitingPlace, delete_waiting, run_waiting_now},
};
use serde::Serialize;

use super::queue_param;
use crate::{ApiError, AppState};

/// A waiting task deleted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaitingTaskDeleted {
    id: TaskId,
    queue: Queue,
    /// Where it waited: `active` (ready to run) or `delayed` (due later, or waiting for a retry).
    #[schema(value_type = String)]
    was: WaitingPlace,
}

/// A waiting task on the active list now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskRunNow {
    id: TaskId,
    queue: Queue,
    status: TaskStatus,
    /// Where it waited: `delayed` (moved to the end of the active list now), or `active`
    /// (ready to run already: left in its place).
    #[schema(value_type = String)]
    was: WaitingPlace,
    status_url: String,
}

fn queue_and_id(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(Queue, TaskId), ApiError> {
    let Path((queue, id)) = path.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok((queue_param(&queue)?, id.parse::<TaskId>()?))
}

/// `DELETE /v1/admin/queues/{queue}/tasks/{id}`: the waiting or delayed task is deleted with its
/// payload; a running or finished one is refused (409).
pub async fn delete(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (queue, id) = queue_and_id(path)?;
    let was = state
        .redis(delete_waiting(
            &state.queue_conn(&queue.name()),
            state.keys(),
            &queue.name(),
            id,
        ))
        .await?;
    Ok(Json(WaitingTaskDeleted { id, queue, was }).into_response())
}

/// `POST /v1/admin/queues/{queue}/tasks/{id}/run`: the delayed task goes to the end of the
/// active list now; a running or finished one is refused (409).
pub async fn run(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (queue, id) = queue_and_id(path)?;
    let was = state
        .redis(run_waiting_now(
            &state.queue_conn(&queue.name()),
            state.keys(),
            &queue.name(),
            id,
        ))
        .await?;
    Ok(Json(TaskRunNow {
        id,
        queue,
        status: TaskStatus::Pending,
        was,
        status_url: format!("/v1/tasks/{id}"),
    })
    .into_response())
}
