//! Removing what dead workers left behind in a queue's registry, and the metadata of workers
//! no registry names any more (apalis's orphan recovery removes a dead worker's entry but not
//! its metadata hash, so every SIGKILLed incarnation would leave one forever).

use std::time::Duration;

use super::{
    QueueError, RedisConn,
    scripts::{SWEEP_METADATA, SWEEP_WORKERS},
};
use crate::{jobs::QueueName, keys::Keys};

/// Metadata keys handed to one script call.
const SCAN_BATCH: usize = 500;

/// Removes workers silent for longer than `silent_for` whose in-flight sets are empty (their
/// registry entry, metadata, info and in-flight set), then the metadata of every worker the
/// registry no longer names. Returns how many workers' leftovers were removed.
pub async fn sweep_dead_workers(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    silent_for: Duration,
) -> Result<u64, QueueError> {
    let k = keys.queue(queue);
    let registered: u64 = SWEEP_WORKERS
        .key(k.workers())
        .arg(k.inflight_prefix())
        .arg(k.worker_metadata_prefix())
        .arg(silent_for.as_secs())
        .arg(k.worker_info_prefix())
        .invoke_async(&mut conn.clone())
        .await?;
    // SCAN in steps, each batch checked against the registry in one script: a worker that
    // registers meanwhile writes its entry and its metadata together, so it is never mistaken
    // for a gone one.
    // (On a Redis Cluster, SCAN goes to the primary holding this queue's slot.)
    let mut c = conn.queue_conn();
    let pattern = format!("{}:*", k.worker_metadata_prefix());
    let mut cursor: u64 = 0;
    let mut unregistered = 0;
    loop {
        let (next, found): (u64, Vec<String>) = c
            .query_at(
                &k.workers(),
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_BATCH),
            )
            .await?;
        if !found.is_empty() {
            let deleted: u64 = SWEEP_METADATA
                .key(k.workers())
                .arg(k.worker_metadata_prefix())
                .arg(found)
                .invoke_async(&mut c)
                .await?;
            unregistered += deleted;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    Ok(registered + unregistered)
}
