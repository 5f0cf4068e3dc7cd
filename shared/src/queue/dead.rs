//! Dead letters: the tasks of a queue that will never run again (a permanent error, or retries
//! exhausted), listed newest first, shown one by one, retried (back on the active list as new)
//! or purged. Celery's `inspect` and Flower's "failed tasks" for coinbeat.

use serde::Serialize;

use super::{
    QueueError, RedisConn, TaskId, TaskInfo, TaskStatus, lookup_task,
    scripts::{DEAD_LIST, DEAD_PURGE, DEAD_RETRY},
};
use crate::{jobs::QueueName, keys::Keys, settings::QueuesSettings};

/// Most dead tasks one page may hold.
pub const MAX_DEAD_PAGE: u64 = 1_000;
/// Dead tasks moved or deleted per script call by "retry all" and "purge all", so Redis is never
/// blocked for long.
const STEP: u64 = 1_000;

/// Why a dead-letter operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeadError {
    #[error("no task {id} in queue {queue} (never enqueued, or pruned after its retention)")]
    NotFound { queue: QueueName, id: TaskId },
    /// Only dead tasks can be retried or purged here; the task is somewhere else in its life.
    #[error("task {id} is {}, not dead: only dead tasks can be retried or purged", .status.as_str())]
    NotDead { id: TaskId, status: TaskStatus },
    /// A dead task whose payload is gone cannot run again; purge it instead.
    #[error("dead task {id} has no payload left, so it cannot run again; purge it instead")]
    NoPayload { id: TaskId },
    /// Full queue, Redis trouble, or a reply our scripts never give.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<redis::RedisError> for DeadError {
    fn from(e: redis::RedisError) -> Self {
        DeadError::Queue(e.into())
    }
}

/// One dead task as the list shows it (the payload is in [`dead_task`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadTask {
    pub id: TaskId,
    pub queue: QueueName,
    /// Attempts made before it died.
    pub attempts: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub enqueued_at: Option<u64>,
    /// When it died (unix milliseconds).
    pub finished_at: Option<u64>,
}

/// One page of a queue's dead tasks, newest death first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadPage {
    pub queue: QueueName,
    /// Dead tasks in the queue, on every page.
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub tasks: Vec<DeadTask>,
}

/// What "retry all" did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetryReport {
    /// Back on the active list.
    pub retried: u64,
    /// Dead records without a payload, which could not run again and were deleted.
    pub discarded: u64,
}

/// Lists `limit` (at most [`MAX_DEAD_PAGE`]) dead tasks of `queue` from `offset`, newest death
/// first.
pub async fn list_dead(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    offset: u64,
    limit: u64,
) -> Result<DeadPage, QueueError> {
    let limit = limit.min(MAX_DEAD_PAGE);
    let k = keys.queue(queue);
    let reply: Vec<String> = DEAD_LIST
        .key(k.dead())
        .key(k.finished())
        .arg(k.meta_prefix())
        .arg(offset)
        .arg(limit)
        .invoke_async(&mut conn.clone())
        .await?;
    let protocol = |what: &str| QueueError::Protocol(format!("dead list: {what}"));
    let (total, rows) = reply.split_first().ok_or_else(|| protocol("empty reply"))?;
    let total = total.parse().map_err(|_| protocol("total"))?;
    let num = |v: &str| v.parse::<u64>().ok();
    let tasks = rows
        .chunks_exact(6)
        .map(|r| {
            Ok(DeadTask {
                id: r[0].parse().map_err(|_| protocol("task id"))?,
                queue: queue.clone(),
                attempts: num(&r[1]).unwrap_or(0) as u32,
                max_attempts: num(&r[2]).unwrap_or(0) as u32,
                last_error: Some(r[3].clone()).filter(|e| !e.is_empty()),
                enqueued_at: num(&r[4]),
                finished_at: num(&r[5]),
            })
        })
        .collect::<Result<_, QueueError>>()?;
    Ok(DeadPage {
        queue: queue.clone(),
        total,
        offset,
        limit,
        tasks,
    })
}

/// Everything known about one dead task (payload, attempts, last error, timestamps).
pub async fn dead_task(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    id: TaskId,
) -> Result<TaskInfo, DeadError> {
    let task = lookup_task(conn, keys, queue, id)
        .await?
        .ok_or_else(|| DeadError::NotFound {
            queue: queue.clone(),
            id,
        })?;
    match task.status {
        TaskStatus::Dead => Ok(task),
        status => Err(DeadError::NotDead { id, status }),
    }
}

/// Puts one dead task back on the active list with its attempts reset, and wakes idle workers.
/// Refused with [`QueueError::Full`] (inside [`DeadError::Queue`]) when the queue is at its cap.
pub async fn retry_dead(
    conn: &impl RedisConn,
    keys: &Keys,
    queues: &QueuesSettings,
    queue: &QueueName,
    id: TaskId,
) -> Result<(), DeadError> {
    let reply = retry_script(conn, keys, queues, queue, "one", id.to_string()).await?;
    match reply {
        Retried::Ok(_) => Ok(()),
        Retried::Refused(why) => Err(refusal(conn, keys, queue, id, &why).await),
    }
}

/// Puts every dead task of `queue` back on the active list, in steps of 1,000. The cap is checked
/// against all of them first: when they do not fit, nothing is retried.
pub async fn retry_all_dead(
    conn: &impl RedisConn,
    keys: &Keys,
    queues: &QueuesSettings,
    queue: &QueueName,
) -> Result<RetryReport, DeadError> {
    let mut report = RetryReport::default();
    loop {
        match retry_script(conn, keys, queues, queue, "all", STEP.to_string()).await? {
            Retried::Ok(step) => {
                report.retried += step.retried;
                report.discarded += step.discarded;
                if step.retried + step.discarded < STEP {
                    return Ok(report);
                }
            }
            Retried::Refused(why) => {
                return Err(QueueError::Protocol(format!("retry all: {why}")).into());
            }
        }
    }
}

/// Deletes one dead task's record (payload, meta, its place in the dead set).
pub async fn purge_dead(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    id: TaskId,
) -> Result<(), DeadError> {
    match purge_script(conn, keys, queue, "one", id.to_string()).await? {
        Ok(_) => Ok(()),
        Err(why) => Err(refusal(conn, keys, queue, id, &why).await),
    }
}

/// Deletes every dead task of `queue`, in steps of 1,000; returns how many.
pub async fn purge_all_dead(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
) -> Result<u64, DeadError> {
    let mut total = 0;
    loop {
        let n = purge_script(conn, keys, queue, "all", STEP.to_string())
            .await?
            .map_err(|why| QueueError::Protocol(format!("purge all: {why}")))?;
        total += n;
        if n < STEP {
            return Ok(total);
        }
    }
}

enum Retried {
    Ok(RetryReport),
    /// `unknown`, `not_dead` or `no_payload`.
    Refused(String),
}

async fn retry_script(
    conn: &impl RedisConn,
    keys: &Keys,
    queues: &QueuesSettings,
    queue: &QueueName,
    mode: &str,
    target: String,
) -> Result<Retried, DeadError> {
    let k = keys.queue(queue);
    let cap = queues.for_queue(queue).max_backlog;
    let reply: Vec<redis::Value> = DEAD_RETRY
        .key(k.dead())
        .key(k.finished())
        .key(k.active())
        .key(k.delayed())
        .key(k.data())
        .key(k.signal())
        .key(k.errors())
        .arg(k.meta_prefix())
        .arg(k.available_channel())
        .arg(cap)
        .arg(mode)
        .arg(target)
        .arg(k.idempotency_prefix())
        .arg(super::producer::SINGLE_FLIGHT_TTL.as_secs())
        .invoke_async(&mut conn.clone())
        .await?;
    let (state, numbers) = decode(reply)?;
    match (state.as_str(), &numbers[..]) {
        ("ok", &[retried, discarded]) => Ok(Retried::Ok(RetryReport { retried, discarded })),
        ("full", &[depth, _wanted]) => Err(QueueError::Full {
            queue: queue.clone(),
            depth,
            cap,
        }
        .into()),
        (other, []) => Ok(Retried::Refused(other.to_owned())),
        _ => Err(QueueError::Protocol(format!("dead retry replied {state} {numbers:?}")).into()),
    }
}

async fn purge_script(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    mode: &str,
    target: String,
) -> Result<Result<u64, String>, DeadError> {
    let k = keys.queue(queue);
    let reply: Vec<redis::Value> = DEAD_PURGE
        .key(k.dead())
        .key(k.finished())
        .key(k.data())
        .key(k.errors())
        .arg(k.meta_prefix())
        .arg(k.idempotency_prefix())
        .arg(mode)
        .arg(target)
        .invoke_async(&mut conn.clone())
        .await?;
    let (state, numbers) = decode(reply)?;
    match (state.as_str(), &numbers[..]) {
        ("ok", &[deleted]) => Ok(Ok(deleted)),
        (other, []) => Ok(Err(other.to_owned())),
        _ => Err(QueueError::Protocol(format!("dead purge replied {state} {numbers:?}")).into()),
    }
}

/// A script's `{state, n...}` reply.
fn decode(reply: Vec<redis::Value>) -> Result<(String, Vec<u64>), QueueError> {
    let mut it = reply.into_iter();
    let state: String = redis::from_redis_value(it.next().unwrap_or(redis::Value::Nil))
        .map_err(|e| QueueError::Protocol(e.to_string()))?;
    let numbers = it
        .map(|v| redis::from_redis_value::<u64>(v).map_err(|e| QueueError::Protocol(e.to_string())))
        .collect::<Result<_, _>>()?;
    Ok((state, numbers))
}

/// The error for a script's refusal of one task; for `not_dead`, with the task's actual status.
async fn refusal(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    id: TaskId,
    why: &str,
) -> DeadError {
    let not_found = || DeadError::NotFound {
        queue: queue.clone(),
        id,
    };
    match why {
        "unknown" => not_found(),
        "no_payload" => DeadError::NoPayload { id },
        "not_dead" => match lookup_task(conn, keys, queue, id).await {
            Ok(Some(task)) => DeadError::NotDead {
                id,
                status: task.status,
            },
            Ok(None) => not_found(),
            Err(e) => e.into(),
        },
        other => QueueError::Protocol(format!("dead task {id}: {other}")).into(),
    }
}
