//! One task as the task lists answer it (`GET /v1/queues/{queue}/tasks`, `GET /v1/tasks`). Its
//! arguments are shown to admins only, as `GET /v1/tasks/{id}` does (a wallet task's arguments
//! name a watched wallet).

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    jobs::Queue,
    queue::{TaskId, TaskState, TaskStatus, TaskSummary},
};
use serde::Serialize;
use serde_json::Value;

use super::at_ms;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskRow {
    id: TaskId,
    queue: Queue,
    #[schema(value_type = String)]
    state: TaskState,
    status: TaskStatus,
    attempts: u32,
    max_attempts: u32,
    /// The task's arguments: admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Value>,
    last_error: Option<String>,
    enqueued_at: Option<DateTime<Utc>>,
    run_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl TaskRow {
    /// `t` of `queue`, in `state`; its arguments only when the caller is an `admin`.
    pub fn new(queue: Queue, state: TaskState, t: TaskSummary, admin: bool) -> Self {
        Self {
            id: t.id,
            queue,
            state,
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

    /// The order of a mixed list: not finished first (most recently enqueued first), then
    /// finished, newest first.
    pub fn newest_first(&self) -> impl Ord + use<> {
        (
            self.finished_at.is_some(),
            std::cmp::Reverse(self.finished_at.or(self.enqueued_at)),
        )
    }
}
