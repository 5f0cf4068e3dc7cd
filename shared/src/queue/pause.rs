//! Pausing a queue: while paused, no worker replica fetches from it (`fetch.lua` checks the
//! flag first); what waits stays waiting, tasks already held run to their end, enqueue goes on
//! as usual. The flag lives in Redis under the queue's hash tag, so it holds across every
//! replica and every restart until someone resumes.

use chrono::{DateTime, Utc};

use super::{QueueError, RedisConn, scripts::PAUSE};
use crate::{jobs::QueueName, keys::Keys};

/// A queue's pause flag after a pause or resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseChange {
    /// Whether it was paused before the call.
    pub was_paused: bool,
    /// Since when it is paused (Redis's clock); `None`: it runs.
    pub paused_since: Option<DateTime<Utc>>,
}

/// Pauses `queue` for every replica; pausing a paused queue keeps its first time.
pub async fn pause_queue(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
) -> Result<PauseChange, QueueError> {
    change(conn, keys, queue, "pause").await
}

/// Resumes `queue` and wakes its idle workers.
pub async fn resume_queue(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
) -> Result<PauseChange, QueueError> {
    change(conn, keys, queue, "resume").await
}

async fn change(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    what: &str,
) -> Result<PauseChange, QueueError> {
    let k = keys.queue(queue);
    let (was, since): (i64, i64) = PAUSE
        .key(k.paused())
        .arg(what)
        .arg(k.available_channel())
        .invoke_async(&mut conn.clone())
        .await?;
    Ok(PauseChange {
        was_paused: was == 1,
        paused_since: (since >= 0)
            .then(|| DateTime::from_timestamp_millis(since))
            .flatten(),
    })
}
