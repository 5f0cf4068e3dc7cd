//! Task lookup by id: status, attempts, last error or result.

use std::collections::HashMap;

use serde::Serialize;

use super::{QueueError, QueueRedis, RedisConn, TaskId, TaskState, TaskSummary, scripts::LOOKUP};
use crate::{jobs::QueueName, keys::Keys};

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Waiting to run (now or at `run_at`).
    Pending,
    /// Held by a live worker.
    Running,
    Done,
    /// Failed with a transient error; waits for its next attempt at `run_at`.
    Failed,
    /// Will never run again: a permanent error, or retries exhausted.
    Dead,
}

impl TaskStatus {
    /// The status a task's meta hash records (`status`, apalis's names), for a task no worker
    /// holds.
    pub(crate) fn from_meta(status: &str) -> Self {
        match status {
            "Done" => TaskStatus::Done,
            "Killed" => TaskStatus::Dead,
            "Failed" => TaskStatus::Failed,
            _ => TaskStatus::Pending,
        }
    }

    /// The name the API and the CLI show (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
            TaskStatus::Dead => "dead",
        }
    }
}

/// Everything known about one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskInfo {
    pub id: TaskId,
    pub queue: QueueName,
    pub status: TaskStatus,
    /// Attempts finished so far.
    pub attempts: u32,
    pub max_attempts: u32,
    pub payload: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub enqueued_at: Option<u64>,
    pub run_at: Option<u64>,
    pub finished_at: Option<u64>,
    /// The worker holding it, while running.
    pub worker: Option<String>,
}

impl TaskInfo {
    /// Where the task is at `now_ms` (unix milliseconds): a pending task whose time has not come
    /// is delayed, as is a failed one waiting for its retry's backoff.
    pub fn state(&self, now_ms: u64) -> TaskState {
        match self.status {
            TaskStatus::Running => TaskState::InFlight,
            TaskStatus::Done => TaskState::Done,
            TaskStatus::Dead => TaskState::Dead,
            TaskStatus::Failed => TaskState::Delayed,
            TaskStatus::Pending if self.run_at.is_some_and(|at| at > now_ms) => TaskState::Delayed,
            TaskStatus::Pending => TaskState::Waiting,
        }
    }
}

impl From<TaskInfo> for TaskSummary {
    fn from(t: TaskInfo) -> Self {
        Self {
            id: t.id,
            status: t.status,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            last_error: t.last_error,
            enqueued_at: t.enqueued_at,
            run_at: t.run_at,
            finished_at: t.finished_at,
            payload: t.payload,
        }
    }
}

/// Looks a task up; `Ok(None)` when the queue has no record of it (never existed or pruned).
pub async fn lookup_task(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    id: TaskId,
) -> Result<Option<TaskInfo>, QueueError> {
    let k = keys.queue(queue);
    let id_s = id.to_string();
    let reply: Vec<redis::Value> = LOOKUP
        .key(k.meta(&id_s))
        .key(k.data())
        .key(k.workers())
        .arg(&id_s)
        .arg(k.inflight_prefix())
        .invoke_async(&mut conn.clone())
        .await?;
    if reply.is_empty() {
        return Ok(None);
    }
    let mut it = reply.into_iter();
    let meta: HashMap<String, String> = decode(it.next())?;
    let payload: String = decode(it.next())?;
    let held_by: String = decode(it.next())?;

    let num = |f: &str| meta.get(f).and_then(|v| v.parse::<u64>().ok());
    let status = if !held_by.is_empty() {
        TaskStatus::Running
    } else {
        TaskStatus::from_meta(meta.get("status").map_or("", String::as_str))
    };
    Ok(Some(TaskInfo {
        id,
        queue: queue.clone(),
        status,
        attempts: num("attempts").unwrap_or(0) as u32,
        max_attempts: num("max_attempts").unwrap_or(0) as u32,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload)),
        result: meta
            .get("result")
            .filter(|_| status == TaskStatus::Done)
            .and_then(|r| serde_json::from_str(r).ok()),
        last_error: meta.get("last_error").cloned().filter(|e| !e.is_empty()),
        enqueued_at: num("enqueued_at"),
        run_at: num("run_at"),
        finished_at: num("done_at"),
        worker: (!held_by.is_empty()).then_some(held_by),
    }))
}

fn decode<T: redis::FromRedisValue>(v: Option<redis::Value>) -> Result<T, QueueError> {
    redis::from_redis_value(v.unwrap_or(redis::Value::Nil))
        .map_err(|e| QueueError::Protocol(e.to_string()))
}

/// Looks a task up in every product queue at once (a task id does not say its queue).
pub async fn find_task(
    redis: &QueueRedis,
    keys: &Keys,
    id: TaskId,
) -> Result<Option<TaskInfo>, QueueError> {
    let lookups = crate::jobs::Queue::ALL.map(|queue| async move {
        let name = queue.name();
        lookup_task(&redis.conn(&name), keys, &name, id).await
    });
    let found = futures::future::try_join_all(lookups).await?;
    Ok(found.into_iter().flatten().next())
}
