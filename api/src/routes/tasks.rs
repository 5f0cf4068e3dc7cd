//! `POST /v1/tasks` (enqueue work on demand) and `GET /v1/tasks/{id}` (what became of it).

use axum::{
    Extension, Json,
    extract::{Path, State, rejection::PathRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    jobs::{Queue, QueueName},
    queue::{EnqueueOptions, TaskId, TaskInfo, TaskStatus, find_task},
    settings::Role,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    ApiError, AppState, JsonBody,
    auth::Caller,
    on_demand::{self, Outcome},
};

/// Longest accepted idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 256;

/// The body of `POST /v1/tasks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The job kind, which is also its queue: `prices`, `market`, `wallet`, `health`, `cleanup`.
    pub kind: String,
    /// The kind's arguments; absent or `null` means none (e.g. the tracked set for `prices`).
    #[serde(default)]
    pub args: Value,
    /// While held (the queue's `idempotency_ttl_secs`), a second request with the same key is
    /// refused with 409 and the first task's id. With a key, requests are deduplicated by that
    /// key only, not by their args.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Enqueue even when fresh data is cached (an identical task already waiting or running is
    /// still joined rather than doubled).
    #[serde(default)]
    pub force: bool,
}

/// `POST /v1/tasks`: work on demand, without waste ([`on_demand`]):
///
/// - 202 `{"id", "queue", "status": "pending", "status_url", "deduplicated": false}` and a
///   `Location` header for a new task;
/// - 200 with `"deduplicated": true` and the id of an identical task still waiting or running
///   (nothing enqueued);
/// - 200 `{"fresh": true, "kind", "data"}` when the data asked for is cached and fresh (prices:
///   every symbol asked, or the tracked set; wallet: its analysis), unless `"force": true`.
///
/// 422 for an unknown kind or bad args, 429 when the queue is full (with `Retry-After`), 409 for
/// a held idempotency key.
pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(request): JsonBody<SubmitRequest>,
) -> Result<Response, ApiError> {
    let kind: Queue = request.kind.parse()?;
    if let Some(key) = &request.idempotency_key
        && (key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES)
    {
        return Err(ApiError::InvalidBody(format!(
            "`idempotency_key` must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} bytes"
        )));
    }
    let options = EnqueueOptions {
        idempotency_key: request.idempotency_key,
        ..EnqueueOptions::default()
    };
    match on_demand::request(&state, &caller, kind, &request.args, request.force, options).await? {
        Outcome::Fresh(data) => Ok(on_demand::fresh_response(kind, data)),
        Outcome::Task(accepted) => Ok(accepted.respond(&accepted)),
    }
}

/// A task as the API shows it; times are RFC 3339 UTC, like every time in the API.
#[derive(Debug, Serialize)]
pub(crate) struct TaskView {
    id: TaskId,
    queue: QueueName,
    status: TaskStatus,
    /// Attempts finished so far.
    attempts: u32,
    max_attempts: u32,
    /// The job's arguments; shown to admins only (a wallet job's names a wallet, and the
    /// admin routes are where payloads are seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Value>,
    /// The handler's result, once done; a wallet job's (the analysis) to admins only.
    result: Option<Value>,
    last_error: Option<String>,
    enqueued_at: Option<DateTime<Utc>>,
    /// When it may run (or next runs, after a transient failure).
    run_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// The worker holding it, while running (its name carries host and pid: not shown to a
    /// caller without a token).
    worker: Option<String>,
}

impl TaskView {
    /// The task as `caller` may see it.
    pub(crate) fn for_caller(task: TaskInfo, caller: &Caller) -> Self {
        let admin = caller.has(Role::Admin);
        let wallet = task.queue.as_str() == Queue::Wallet.as_str();
        let mut view = Self::from(task);
        if !admin {
            view.payload = None;
            if wallet {
                view.result = None;
            }
        }
        if !caller.is_known() {
            view.worker = None;
        }
        view
    }
}

impl From<TaskInfo> for TaskView {
    fn from(t: TaskInfo) -> Self {
        let at = |ms: Option<u64>| {
            ms.filter(|ms| *ms > 0)
                .and_then(|ms| DateTime::from_timestamp_millis(ms as i64))
        };
        Self {
            id: t.id,
            queue: t.queue,
            status: t.status,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            payload: Some(t.payload),
            result: t.result,
            last_error: t.last_error,
            enqueued_at: at(t.enqueued_at),
            run_at: at(t.run_at),
            finished_at: at(t.finished_at),
            worker: t.worker,
        }
    }
}

/// `GET /v1/tasks/{id}`: the task, looked up in every queue at once (an id does not say its
/// queue). 422 `invalid_task_id` for something that is not a ULID, 404 `task_not_found` for
/// an id no queue knows.
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id: TaskId = raw.parse()?;
    let task = state
        .redis(find_task(state.queue_redis(), state.keys(), id))
        .await?
        .ok_or(ApiError::TaskNotFound(id))?;
    Ok(Json(TaskView::for_caller(task, &caller)).into_response())
}
