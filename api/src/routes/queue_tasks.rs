//! `GET /v1/queues/{queue}/tasks?state=waiting|delayed|in_flight|done|dead[&limit=&offset=]`:
//! a page of a queue's tasks in one state, in that state's order (waiting: the order they
//! will run; delayed: soonest first; in flight: oldest first; done and dead: newest first),
//! with the total in that state. Payloads are shown to admins only, as `GET /v1/tasks/{id}`
//! does (a wallet task's arguments name a watched wallet).

use axum::{
    Extension, Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
};
use coinbeat_shared::{
    jobs::Queue,
    queue::{TaskState, list_tasks},
    settings::Role,
};
use serde::{Deserialize, Serialize};

use super::{paging::PageQuery, queue_param, task_row::TaskRow};
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
            .map(|t| TaskRow::new(queue, task_state, t, admin))
            .collect(),
    }))
}
