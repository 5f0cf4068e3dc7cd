//! `GET /v1/queues/{queue}/tasks?state=waiting|delayed|in_flight|done|dead[&limit=&offset=]`:
//! a page of a queue's tasks in one state, in that state's order (waiting: the order they
//! will run; delayed: soonest first; in flight: oldest first; done and dead: newest first),
//! with the total in that state. Payloads are shown to admins only, as `GET /v1/tasks/{id}`
//! does (a wallet task's arguments name a watched wallet).

use axum::{
    Extension, Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    jobs::Queue,
    queue::{TaskId, TaskState, TaskStatus, TaskSummary, list_tasks},
    settings::Role,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{at_ms, paging::PageQuery, queue_param};
use crate::{ApiError, AppState, auth::Caller};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StateQuery {
    /// `waiting` (the default), `delayed`, `in_flight`, `done` or `dead`.
    #[param(value_type = Option<String>, pattern = "^(waiting|delayed|in_flight|done|dead)$")]
    state: Option<String>,
}

/// `GET /v1/queues/{queue}/tasks`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskPageView {
    queue: Queue,
    #[schema(value_type = String)]
    state: TaskState,
    /// Tasks in this state now.
    total: u64,
    offset: u64,
    limit: u64,
    tasks: Vec<TaskRow>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TaskRow {
    id: TaskId,
    queue: Queue,
    status: TaskStatus,
    attempts: u32,
    max_attempts: u32,
    /// The task's payload: admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Value>,
    last_error: Option<String>,
    enqueued_at: Option<DateTime<Utc>>,
    run_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// 404 for an unknown queue; 422 for a state, limit or offset that is not one.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    queue: Result<Path<String>, PathRejection>,
    page: Result<Query<PageQuery>, QueryRejection>,
    wanted: Result<Query<StateQuery>, QueryRejection>,
) -> Result<Json<TaskPageView>, ApiError> {
    let Path(raw) = queue.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let queue = queue_param(&raw)?;
    let Query(page) = page.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(wanted) = wanted.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (offset, limit) = page.parse()?;
    let task_state = match wanted.state.as_deref() {
        None => TaskState::Waiting,
        Some(raw) => raw
            .parse()
            .map_err(|e: coinbeat_shared::queue::UnknownTaskState| {
                ApiError::InvalidQuery(e.to_string())
            })?,
    };
    let name = queue.name();
    let found = state
        .redis(list_tasks(
            &state.queue_conn(&name),
            state.keys(),
            &name,
            task_state,
            offset,
            limit,
        ))
        .await?;
    let admin = caller.has(Role::Admin);
    Ok(Json(TaskPageView {
        queue,
        state: task_state,
        total: found.total,
        offset,
        limit,
        tasks: found
            .tasks
            .into_iter()
            .map(|t| TaskRow::new(queue, t, admin))
            .collect(),
    }))
}

impl TaskRow {
    fn new(queue: Queue, t: TaskSummary, admin: bool) -> Self {
        Self {
            id: t.id,
            queue,
            status: t.status,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            args: admin.then_some(t.payload),
            last_error: t.last_error,
            enqueued_at: at_ms(t.enqueued_at),
            run_at: at_ms(t.run_at),
            finished_at: at_ms(t.finished_at),
        }
    }
}
