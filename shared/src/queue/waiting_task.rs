//! One task that has not started yet, by its id: deleted (Sidekiq's "delete" on a scheduled or
//! retrying job, asynq's `DeleteTask`), or run now instead of at its `run_at` ("add to queue",
//! `RunTask`). Running and finished tasks are refused: a worker holds the one, the dead letters
//! (`dead.rs`) hold what is left of the other.

use serde::Serialize;

use super::{QueueError, RedisConn, TaskId, TaskStatus, lookup_task, scripts::WAITING_TASK};
use crate::{jobs::QueueName, keys::Keys};

/// Why a waiting task could not be deleted or run now.
#[derive(Debug, thiserror::Error)]
pub enum WaitingError {
    #[error("no task {id} in queue {queue} (never enqueued, or pruned after its retention)")]
    NotFound { queue: QueueName, id: TaskId },
    /// The task has started or finished; only a task that waits can be deleted or run now.
    #[error(
        "task {id} is {}, not waiting: only a waiting or delayed task can be deleted or run now",
        .status.as_str()
    )]
    NotWaiting { id: TaskId, status: TaskStatus },
    /// Redis trouble, or a reply our script never gives.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<redis::RedisError> for WaitingError {
    fn from(e: redis::RedisError) -> Self {
        WaitingError::Queue(e.into())
    }
}

/// Where the task was when it was deleted or moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitingPlace {
    /// On the active list: ready to run, next free worker takes it in turn.
    Active,
    /// In the delayed set: due later, or waiting for its next attempt.
    Delayed,
}

/// Deletes the task `id` of `queue`, waiting or delayed, with its payload and meta (and its
/// idempotency key, when the key still names it, so the same work can be submitted again).
pub async fn delete_waiting(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    id: TaskId,
) -> Result<WaitingPlace, WaitingError> {
    call(conn, keys, queue, id, "delete").await
}

/// Moves the delayed task `id` of `queue` to the end of the active list now and wakes idle
/// workers; a task already on the active list is left where it is.
pub async fn run_waiting_now(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    id: TaskId,
) -> Result<WaitingPlace, WaitingError> {
    call(conn, keys, queue, id, "run").await
}

async fn call(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    id: TaskId,
    mode: &str,
) -> Result<WaitingPlace, WaitingError> {
    let k = keys.queue(queue);
    let reply: Vec<String> = WAITING_TASK
        .key(k.active())
        .key(k.delayed())
        .key(k.data())
        .key(k.errors())
        .key(k.signal())
        .arg(k.meta_prefix())
        .arg(k.idempotency_prefix())
        .arg(k.available_channel())
        .arg(mode)
        .arg(id.to_string())
        .invoke_async(&mut conn.clone())
        .await?;
    let not_found = || WaitingError::NotFound {
        queue: queue.clone(),
        id,
    };
    match reply.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["ok", "active"] => Ok(WaitingPlace::Active),
        ["ok", "delayed"] => Ok(WaitingPlace::Delayed),
        ["unknown"] => Err(not_found()),
        ["not_waiting"] => match lookup_task(conn, keys, queue, id).await? {
            Some(task) => Err(WaitingError::NotWaiting {
                id,
                status: task.status,
            }),
            None => Err(not_found()),
        },
        _ => Err(QueueError::Protocol(format!("waiting task {id} {mode}: {reply:?}")).into()),
    }
}
