//! The workers of a queue as operators see them: name, host, pid, start, last heartbeat and what
//! each holds (Flower's worker list). Host, pid and start come from the info record each
//! incarnation writes when it starts ([`register_info`]); for a worker without one (written by an
//! older version) host and pid are read from its name, `{queue}-{host}-{pid}-{random}`.

use std::time::Duration;

use serde::Serialize;

use super::{QueueError, RedisConn, now_ms, scripts::WORKERS};
use crate::{
    jobs::QueueName,
    keys::{Keys, QueueKeys},
    settings::QueueSettings,
};

/// One registered worker incarnation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerInfo {
    pub name: String,
    pub queue: QueueName,
    pub host: Option<String>,
    pub pid: Option<u32>,
    /// When the incarnation started (unix milliseconds); `None` without an info record.
    pub started_at: Option<u64>,
    /// Its last heartbeat (unix milliseconds, whole seconds as apalis records them).
    pub last_heartbeat: u64,
    /// Tasks it holds (running or fetched).
    pub in_flight: u64,
    /// Whether it sent a heartbeat within the queue's orphan window.
    pub live: bool,
}

/// Every worker registered on `queue`, oldest heartbeat first.
pub async fn list_workers(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    settings: &QueueSettings,
) -> Result<Vec<WorkerInfo>, QueueError> {
    let k = keys.queue(queue);
    let reply: Vec<String> = WORKERS
        .key(k.workers())
        .arg(k.inflight_prefix())
        .arg(k.worker_info_prefix())
        .invoke_async(&mut conn.clone())
        .await?;
    let (now, rows) = reply
        .split_first()
        .ok_or_else(|| QueueError::Protocol("workers.lua replied nothing".into()))?;
    let now_secs: u64 = now
        .parse()
        .map_err(|_| QueueError::Protocol(format!("redis time {now:?}")))?;
    // Heartbeats are on Redis's clock; so is the cut-off.
    let cutoff_secs = now_secs.saturating_sub(settings.orphan_after().as_secs());
    rows.chunks_exact(6)
        .map(|r| {
            let heartbeat_secs: u64 = r[1]
                .parse::<f64>()
                .map_err(|_| QueueError::Protocol(format!("heartbeat of {}: {:?}", r[0], r[1])))?
                as u64;
            let (name_host, name_pid) = from_name(queue, &r[0]);
            Ok(WorkerInfo {
                name: r[0].clone(),
                queue: queue.clone(),
                host: Some(r[3].clone()).filter(|h| !h.is_empty()).or(name_host),
                pid: r[4].parse().ok().or(name_pid),
                started_at: r[5].parse().ok(),
                last_heartbeat: heartbeat_secs * 1_000,
                in_flight: r[2].parse().unwrap_or(0),
                live: heartbeat_secs > cutoff_secs,
            })
        })
        .collect()
}

/// Host and pid out of a worker name `{queue}-{host}-{pid}-{random}` (the host may hold `-`).
fn from_name(queue: &QueueName, name: &str) -> (Option<String>, Option<u32>) {
    let Some(rest) = name.strip_prefix(&format!("{queue}-")) else {
        return (None, None);
    };
    let mut parts = rest.rsplitn(3, '-');
    let (_suffix, pid, host) = (parts.next(), parts.next(), parts.next());
    match (host, pid.and_then(|p| p.parse().ok())) {
        (Some(host), Some(pid)) => (Some(host.to_owned()), Some(pid)),
        _ => (None, None),
    }
}

/// Writes the info record of the incarnation `name` (host, pid, start), expiring after `ttl`
/// unless a heartbeat refreshes it (`heartbeat.lua`): orphan recovery removes a dead worker
/// from the registry without deleting it, so the expiry is what bounds it.
pub(crate) async fn register_info(
    conn: &impl RedisConn,
    keys: &QueueKeys,
    name: &str,
    host: &str,
    ttl: Duration,
) -> redis::RedisResult<()> {
    let key = keys.worker_info(name);
    redis::pipe()
        .atomic()
        .cmd("HSET")
        .arg(&key)
        .arg("host")
        .arg(host)
        .arg("pid")
        .arg(std::process::id())
        .arg("started_ms")
        .arg(now_ms())
        .ignore()
        .cmd("EXPIRE")
        .arg(&key)
        .arg(ttl.as_secs().max(1))
        .ignore()
        .query_async(&mut conn.clone())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_pid_are_read_from_a_name_whose_host_has_dashes() {
        let q = QueueName::parse("prices").unwrap();
        assert_eq!(
            from_name(&q, "prices-web-1-a-4242-0abc12"),
            (Some("web-1-a".into()), Some(4242))
        );
        assert_eq!(from_name(&q, "market-h-1-000001"), (None, None));
        assert_eq!(from_name(&q, "prices-nopid"), (None, None));
    }
}
