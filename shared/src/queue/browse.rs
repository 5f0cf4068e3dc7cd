//! Browsing a queue: its tasks in one state, a page at a time, in the order that state has
//! (`tasks_page.lua`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use super::{QueueError, RedisConn, TaskId, TaskStatus, scripts::TASKS_PAGE};
use crate::{jobs::QueueName, keys::Keys};

/// The most tasks one page holds.
pub const MAX_TASK_PAGE: u64 = 1_000;

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskState {
    /// Ready to run, in the order they will run.
    Waiting,
    /// Waiting for their time (delayed, or a retry's backoff), soonest first.
    Delayed,
    /// Held by a worker.
    InFlight,
    /// Finished, newest first.
    Done,
    /// Failed for good, newest first.
    Dead,
}

impl TaskState {
    pub const ALL: [TaskState; 5] = [
        TaskState::Waiting,
        TaskState::Delayed,
        TaskState::InFlight,
        TaskState::Done,
        TaskState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Delayed => "delayed",
            TaskState::InFlight => "in_flight",
            TaskState::Done => "done",
            TaskState::Dead => "dead",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of [`TaskState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task state {0:?}; expected waiting, delayed, in_flight, done or dead")]
pub struct UnknownTaskState(pub String);

impl FromStr for TaskState {
    type Err = UnknownTaskState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownTaskState(s.to_owned()))
    }
}

/// One task as a page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSummary {
    pub id: TaskId,
    pub status: TaskStatus,
    pub attempts: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub enqueued_at: Option<u64>,
    pub run_at: Option<u64>,
    pub finished_at: Option<u64>,
    /// The task's payload (its job's arguments), as stored.
    pub payload: serde_json::Value,
}

/// A page of one state's tasks, with how many are in that state.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPage {
    pub total: u64,
    pub tasks: Vec<TaskSummary>,
}

/// Tasks `offset..offset + limit` of `queue` in `state` (`limit` at most [`MAX_TASK_PAGE`]).
pub async fn list_tasks(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    state: TaskState,
    offset: u64,
    limit: u64,
) -> Result<TaskPage, QueueError> {
    let k = keys.queue(queue);
    let reply: Vec<String> = TASKS_PAGE
        .key(k.active())
        .key(k.delayed())
        .key(k.done())
        .key(k.dead())
        .key(k.finished())
        .key(k.workers())
        .key(k.data())
        .arg(state.as_str())
        // Lua counts in doubles: past 2^50 an offset is past any queue anyway, and kept exact.
        .arg(offset.min(1 << 50))
        .arg(limit.min(MAX_TASK_PAGE))
        .arg(k.meta_prefix())
        .arg(k.inflight_prefix())
        .invoke_async(&mut conn.clone())
        .await?;
    let protocol = |what: &str| QueueError::Protocol(format!("tasks page: {what}"));
    let (total, rows) = reply.split_first().ok_or_else(|| protocol("empty reply"))?;
    let total = total.parse().map_err(|_| protocol("total"))?;
    let tasks = rows
        .chunks_exact(TaskSummary::ROW)
        .filter_map(|row| TaskSummary::from_row(row, state))
        .collect();
    Ok(TaskPage { total, tasks })
}

impl TaskSummary {
    /// Fields per task in the replies of `tasks_page.lua` and `search.lua`: id, status,
    /// attempts, max_attempts, last_error, enqueued_at, run_at, done_at, payload.
    pub(crate) const ROW: usize = 9;

    /// One task of a reply, in `state`; `None` for an id that is not a task id (written by
    /// something else: left out, not fatal).
    pub(crate) fn from_row(r: &[String], state: TaskState) -> Option<Self> {
        let num = |v: &str| v.parse::<u64>().ok();
        Some(TaskSummary {
            id: r[0].parse().ok()?,
            status: match state {
                TaskState::InFlight => TaskStatus::Running,
                _ => TaskStatus::from_meta(&r[1]),
            },
            attempts: num(&r[2]).unwrap_or(0) as u32,
            max_attempts: num(&r[3]).unwrap_or(0) as u32,
            last_error: Some(r[4].clone()).filter(|e| !e.is_empty()),
            enqueued_at: num(&r[5]),
            run_at: num(&r[6]),
            finished_at: num(&r[7]),
            payload: serde_json::from_str(&r[8])
                .unwrap_or_else(|_| serde_json::Value::String(r[8].clone())),
        })
    }
}
