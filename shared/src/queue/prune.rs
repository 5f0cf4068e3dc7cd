//! Retention: deletes finished task records past an age, which apalis never does.
//!
//! Three callers, each with bounded work per step: the cleanup job ([`prune_finished`], in
//! steps of [`STEP`] until nothing is left), every ack (`ack.lua`, at most [`ACK_STEP`]) and every
//! promoter tick of a worker ([`prune_step`], at most [`STEP`]). The last two keep retention
//! without the daily job; above the memory high-water mark they prune oldest first whatever
//! the age ([`Retention::age_ms`]). Ages are measured on Redis's clock (`prune.lua`, `ack.lua`).

use std::time::Duration;

use super::{QueueError, RedisConn, memory::MemoryWatch, scripts::PRUNE};
use crate::{
    jobs::QueueName,
    keys::{Keys, QueueKeys},
};

/// Most records one prune script call deletes.
pub(crate) const STEP: u64 = 500;
/// Most records one ack prunes. Above 1, so pruning outpaces the one record an ack adds.
pub(crate) const ACK_STEP: u64 = 2;
/// Most records one ack prunes while Redis is above the high-water mark.
pub(crate) const ACK_STEP_PRESSED: u64 = 8;

/// Deletes done and dead task records that finished more than `older_than` ago. Works in
/// steps of 500 so Redis is never blocked long; returns how many records were deleted.
pub async fn prune_finished(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    older_than: Duration,
) -> Result<u64, QueueError> {
    let k = keys.queue(queue);
    let age_ms = older_than.as_millis() as u64;
    let mut total = 0;
    loop {
        let n = prune_step(conn, &k, age_ms, STEP).await?;
        total += n;
        if n < STEP {
            return Ok(total);
        }
    }
}

/// One bounded step: deletes at most `limit` finished records that finished `age_ms` ago or
/// earlier (on Redis's clock), oldest first.
pub(crate) async fn prune_step(
    conn: &impl RedisConn,
    k: &QueueKeys,
    age_ms: u64,
    limit: u64,
) -> Result<u64, QueueError> {
    Ok(PRUNE
        .key(k.finished())
        .key(k.done())
        .key(k.dead())
        .key(k.data())
        .key(k.errors())
        .key(k.search_hours())
        .arg(k.meta_prefix())
        .arg(age_ms)
        .arg(limit)
        .arg(k.search_log_prefix())
        .invoke_async(&mut conn.clone())
        .await?)
}

/// A worker's retention policy for its queue: how long finished records stay, and when memory
/// says they must go sooner.
#[derive(Debug, Clone)]
pub(crate) struct Retention {
    pub(crate) memory: MemoryWatch,
    /// A key of the queue: on a Redis Cluster, the memory of the node holding it is read.
    pub(crate) at: String,
    pub(crate) keep: Duration,
    pub(crate) high_water: f64,
}

impl Retention {
    /// The age past which finished records go now, and whether memory is above the mark: the
    /// retention normally; 0 above the high-water mark (every finished record may go, oldest
    /// first).
    pub(crate) async fn age_ms(&self) -> (u64, bool) {
        let pressed = self
            .memory
            .reading(&self.at)
            .await
            .is_some_and(|r| r.above(self.high_water));
        if pressed {
            (0, true)
        } else {
            (self.keep.as_millis() as u64, false)
        }
    }
}
