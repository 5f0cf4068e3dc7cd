//! Dead letters of a queue, admin only (`/v1/admin/queues/{queue}/dead...`): list newest first,
//! show one, retry one or all (back on the queue, attempts reset), purge one or all.
//!
//! 404 `unknown_queue` for a queue that is not a product queue, 404 `task_not_found` for an id
//! the queue does not know, 409 `task_not_dead` for a task that is not dead, 429 `queue_full`
//! when a retry does not fit under the backlog cap.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    jobs::Queue,
    queue::{
        DeadTask, TaskId, TaskStatus, dead_task, list_dead, purge_all_dead, purge_dead,
        retry_all_dead, retry_dead,
    },
};
use serde::Serialize;

use super::{at_ms, paging::PageQuery, queue_param, tasks::TaskView};
use crate::{ApiError, AppState};

/// A dead task back on its queue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Retried {
    id: TaskId,
    queue: Queue,
    status: TaskStatus,
    status_url: String,
}

/// Every dead task of a queue back on it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RetriedAll {
    queue: Queue,
    retried: u64,
    /// Dead records without a payload, which could not run again and were deleted.
    discarded: u64,
}

/// One dead task purged.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurgedOne {
    queue: Queue,
    id: TaskId,
    purged: u64,
}

/// Every dead task of a queue purged.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Purged {
    queue: Queue,
    purged: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DeadTaskView {
    id: TaskId,
    queue: Queue,
    attempts: u32,
    max_attempts: u32,
    last_error: Option<String>,
    enqueued_at: Option<DateTime<Utc>>,
    /// When it died.
    finished_at: Option<DateTime<Utc>>,
}

impl DeadTaskView {
    fn new(queue: Queue, t: DeadTask) -> Self {
        Self {
            id: t.id,
            queue,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            last_error: t.last_error,
            enqueued_at: at_ms(t.enqueued_at),
            finished_at: at_ms(t.finished_at),
        }
    }
}

/// A page of dead tasks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadPageView {
    queue: Queue,
    total: u64,
    offset: u64,
    limit: u64,
    tasks: Vec<DeadTaskView>,
}

fn path_of<T>(path: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// `GET /v1/admin/queues/{queue}/dead[?limit=N&offset=M]`: a page (1..=1000, default 50) of
/// dead tasks, newest death first, with the total.
pub async fn list(
    State(state): State<AppState>,
    queue: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let queue = queue_param(&path_of(queue)?)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (offset, limit) = query.parse()?;
    let page = state
        .redis(list_dead(
            &state.queue_conn(&queue.name()),
            state.keys(),
            &queue.name(),
            offset,
            limit,
        ))
        .await?;
    Ok(Json(DeadPageView {
        queue,
        total: page.total,
        offset: page.offset,
        limit: page.limit,
        tasks: page
            .tasks
            .into_iter()
            .map(|t| DeadTaskView::new(queue, t))
            .collect(),
    })
    .into_response())
}

/// `GET /v1/admin/queues/{queue}/dead/{id}`: the dead task with its payload, as
/// `GET /v1/tasks/{id}` shows tasks.
pub async fn show(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (queue, id) = path_of(path)?;
    let (queue, id) = (queue_param(&queue)?, id.parse::<TaskId>()?);
    let task = state
        .redis(dead_task(
            &state.queue_conn(&queue.name()),
            state.keys(),
            &queue.name(),
            id,
        ))
        .await?;
    Ok(Json(TaskView::from(task)).into_response())
}

/// `POST /v1/admin/queues/{queue}/dead/{id}/retry`: the task is waiting again, attempts reset.
pub async fn retry(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (queue, id) = path_of(path)?;
    let (queue, id) = (queue_param(&queue)?, id.parse::<TaskId>()?);
    let queues = &state.settings().queues;
    state
        .redis(retry_dead(
            &state.queue_conn(&queue.name()),
            state.keys(),
            queues,
            &queue.name(),
            id,
        ))
        .await?;
    Ok(Json(Retried {
        id,
        queue,
        status: TaskStatus::Pending,
        status_url: format!("/v1/tasks/{id}"),
    })
    .into_response())
}

/// `POST /v1/admin/queues/{queue}/dead/retry`: every dead task of the queue is waiting again
/// (none when they do not all fit under the cap: 429).
pub async fn retry_all(
    State(state): State<AppState>,
    queue: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let queue = queue_param(&path_of(queue)?)?;
    let queues = &state.settings().queues;
    let report = state
        .redis(retry_all_dead(
            &state.queue_conn(&queue.name()),
            state.keys(),
            queues,
            &queue.name(),
        ))
        .await?;
    Ok(Json(RetriedAll {
        queue,
        retried: report.retried,
        discarded: report.discarded,
    })
    .into_response())
}

/// `DELETE /v1/admin/queues/{queue}/dead/{id}`: the dead task's record is deleted.
pub async fn purge_one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (queue, id) = path_of(path)?;
    let (queue, id) = (queue_param(&queue)?, id.parse::<TaskId>()?);
    state
        .redis(purge_dead(
            &state.queue_conn(&queue.name()),
            state.keys(),
            &queue.name(),
            id,
        ))
        .await?;
    Ok(Json(PurgedOne {
        queue,
        id,
        purged: 1,
    })
    .into_response())
}

/// `DELETE /v1/admin/queues/{queue}/dead`: every dead task's record is deleted.
pub async fn purge_all(
    State(state): State<AppState>,
    queue: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let queue = queue_param(&path_of(queue)?)?;
    let purged = state
        .redis(purge_all_dead(
            &state.queue_conn(&queue.name()),
            state.keys(),
            &queue.name(),
        ))
        .await?;
    Ok(Json(Purged { queue, purged }).into_response())
}
