//! Purging a queue: every waiting task (the active list and the delayed set) deleted with its
//! payload and meta; tasks a worker holds are never touched. Celery's `purge`.

use serde::Serialize;

use super::{QueueError, RedisConn, scripts::PURGE_WAITING};
use crate::{jobs::QueueName, keys::Keys};

/// Tasks deleted per list per script call, so Redis is never blocked for long.
const STEP: u64 = 1_000;

/// What a purge deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub queue: QueueName,
    /// Tasks that were ready to run (the active list).
    pub waiting: u64,
    /// Delayed tasks and tasks waiting for a retry.
    pub delayed: u64,
}

/// Deletes every waiting task of `queue` with its data and meta, in bounded steps, until none is
/// left; in-flight tasks run on and are acked as usual.
pub async fn purge_waiting(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
) -> Result<PurgeReport, QueueError> {
    let k = keys.queue(queue);
    let mut report = PurgeReport {
        queue: queue.clone(),
        waiting: 0,
        delayed: 0,
    };
    loop {
        let (waiting, delayed): (u64, u64) = PURGE_WAITING
            .key(k.active())
            .key(k.delayed())
            .key(k.data())
            .key(k.errors())
            .arg(k.meta_prefix())
            .arg(k.idempotency_prefix())
            .arg(STEP)
            .invoke_async(&mut conn.clone())
            .await?;
        report.waiting += waiting;
        report.delayed += delayed;
        if waiting < STEP && delayed < STEP {
            return Ok(report);
        }
    }
}
