//! [`migrate_layout`]: a queue's keys moved from the layout before the hash tag
//! (`{prefix}:q:{queue}:…`) to the current one (`{{prefix}:q:{queue}}:…`), so upgrading a running
//! deployment loses no waiting task, dead letter or idempotency key. Every worker runs it for
//! its queue as it starts (after the upgrade the old release's workers are gone); it is a single
//! SCAN that finds nothing once done, and safe to run from two replicas at once (each key is
//! moved by one script; the other finds it gone).

use super::{QueueConn, QueueError, RedisConn, scripts::MIGRATE_LAYOUT};
use crate::{jobs::QueueName, keys::Keys};

/// Old keys handed to one script call.
const BATCH: usize = 500;

/// Moves every old-layout key of `queue` into the current layout, merging with what is there.
/// Returns how many old keys were moved (0 when there were none). On a Redis Cluster there is
/// nothing to do: the old layout never ran there.
pub async fn migrate_layout(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
) -> Result<u64, QueueError> {
    let conn = conn.queue_conn();
    if matches!(conn, QueueConn::Cluster(_)) {
        return Ok(0);
    }
    let old = keys.queue_namespace_before_hash_tag(queue);
    let new = keys.queue(queue).namespace().to_owned();
    let mut c = conn.clone();
    let mut found: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{old}:*"))
            .arg("COUNT")
            .arg(BATCH)
            .query_async(&mut c)
            .await?;
        found.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    if found.is_empty() {
        return Ok(0);
    }
    // The active list and the in-flight sets last, so the tasks they hold have their data and
    // meta in place before a worker can fetch them.
    found.sort_by_key(|k| k.ends_with(":active") || k.contains(":inflight:"));
    found.dedup();
    let mut moved = 0;
    for chunk in found.chunks(BATCH) {
        let n: u64 = MIGRATE_LAYOUT
            .prepare_invoke()
            .arg(&old)
            .arg(&new)
            .arg(chunk)
            .invoke_async(&mut c)
            .await?;
        moved += n;
    }
    tracing::info!(%queue, moved, "queue keys moved to the hash-tagged layout");
    Ok(moved)
}
