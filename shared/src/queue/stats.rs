//! Queue statistics computed by coinbeat in one round trip.

use serde::Serialize;

use super::{QueueError, RedisConn, scripts::STATS};
use crate::{jobs::QueueName, keys::Keys, settings::QueueSettings};

/// A snapshot of one queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueStats {
    pub queue: QueueName,
    /// Ready to run now (the active list).
    pub waiting: u64,
    /// Delayed or retrying tasks whose time has come but that no worker has moved yet.
    pub scheduled_due: u64,
    /// Delayed or retrying tasks whose time has not come.
    pub scheduled_future: u64,
    /// Held by a worker (running or fetched), including those of workers not yet declared dead.
    pub in_flight: u64,
    pub done: u64,
    pub dead: u64,
    /// Age of the oldest task that could run now, in milliseconds; `None` when none waits.
    pub oldest_waiting_ms: Option<u64>,
    /// Workers that sent a heartbeat within the orphan window.
    pub live_workers: u64,
    /// Workers still registered, live or not yet recovered.
    pub registered_workers: u64,
    /// Paused: no replica fetches from it (`POST /v1/admin/queues/{queue}/pause`).
    pub paused: bool,
}

/// Reads a consistent snapshot of one queue (a single Lua script, so one round trip).
pub async fn queue_stats(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    settings: &QueueSettings,
) -> Result<QueueStats, QueueError> {
    let k = keys.queue(queue);

    let r: Vec<i64> = STATS
        .key(k.active())
        .key(k.delayed())
        .key(k.done())
        .key(k.dead())
        .key(k.workers())
        .key(k.paused())
        .arg(k.inflight_prefix())
        .arg(k.meta_prefix())
        .arg(settings.orphan_after().as_secs())
        .invoke_async(&mut conn.clone())
        .await?;
    let [
        waiting,
        due,
        future,
        in_flight,
        done,
        dead,
        oldest,
        live,
        registered,
        paused,
    ] = r[..]
    else {
        return Err(QueueError::Protocol(format!(
            "stats returned {} fields",
            r.len()
        )));
    };
    let n = |v: i64| v.max(0) as u64;
    Ok(QueueStats {
        queue: queue.clone(),
        waiting: n(waiting),
        scheduled_due: n(due),
        scheduled_future: n(future),
        in_flight: n(in_flight),
        done: n(done),
        dead: n(dead),
        oldest_waiting_ms: (oldest >= 0).then_some(oldest as u64),
        live_workers: n(live),
        registered_workers: n(registered),
        paused: paused == 1,
    })
}
