//! Removing what dead workers left behind in a queue's registry.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{QueueError, now_ms, scripts::SWEEP_WORKERS};
use crate::{jobs::QueueName, keys::Keys};

/// Removes workers silent for longer than `silent_for` whose in-flight sets are empty (their
/// registry entry, metadata, info and in-flight set). Returns how many were removed.
pub async fn sweep_dead_workers(
    conn: &ConnectionManager,
    keys: &Keys,
    queue: &QueueName,
    silent_for: Duration,
) -> Result<u64, QueueError> {
    let k = keys.queue(queue);
    let cutoff = (now_ms() / 1_000).saturating_sub(silent_for.as_secs());
    Ok(SWEEP_WORKERS
        .key(k.workers())
        .arg(k.inflight_prefix())
        .arg(k.worker_metadata_prefix())
        .arg(cutoff)
        .arg(k.worker_info_prefix())
        .invoke_async(&mut conn.clone())
        .await?)
}
