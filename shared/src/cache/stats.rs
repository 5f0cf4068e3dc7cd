//! What the cache holds, for `GET /v1/admin/cache/stats`: keys and memory per kind (prices,
//! histories, markets, wallets, health, catalogue, queues) and the oldest record of each kind of record.
//!
//! A SCAN over the deployment's prefix and one over its queues' hash-tagged keys, with
//! `MEMORY USAGE` (and `fetched_at_ms` of records) pipelined per batch: O(keys), read-only, for
//! an operator's occasional look, not a hot path. Queues on a Redis of their own (a per-queue
//! URL) are not counted here; `GET /v1/queues` reports them.

use std::collections::BTreeMap;

use redis::aio::ConnectionManager;
use serde::Serialize;

use crate::keys::Keys;

/// Every kind reported, in order.
pub const KINDS: [&str; 7] = [
    "prices",
    "histories",
    "markets",
    "wallets",
    "health",
    "catalogue",
    "queues",
];

/// Keys scanned and read per round trip.
const BATCH: usize = 500;

/// One kind's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindStats {
    pub keys: u64,
    /// Sum of `MEMORY USAGE` over its keys, in bytes.
    pub memory_bytes: u64,
    /// `fetched_at` of its oldest record (kinds whose keys are records: prices, markets,
    /// wallets), unix ms.
    pub oldest_fetched_at_ms: Option<u64>,
}

/// Per kind, in [`KINDS`] order.
pub async fn cache_stats(
    conn: &ConnectionManager,
    keys: &Keys,
) -> Result<BTreeMap<&'static str, KindStats>, redis::RedisError> {
    let mut conn = conn.clone();
    let mut stats: BTreeMap<&'static str, KindStats> =
        KINDS.iter().map(|k| (*k, KindStats::default())).collect();
    for pattern in [keys.all_pattern(), keys.queues_pattern()] {
        scan(&mut conn, keys, &pattern, &mut stats).await?;
    }
    Ok(stats)
}

/// Adds every key matching `pattern` to `stats`.
async fn scan(
    conn: &mut ConnectionManager,
    keys: &Keys,
    pattern: &str,
    stats: &mut BTreeMap<&'static str, KindStats>,
) -> Result<(), redis::RedisError> {
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(BATCH)
            .query_async(conn)
            .await?;
        let classified: Vec<(&'static str, String)> = batch
            .into_iter()
            .filter_map(|key| keys.kind_of(&key).map(|kind| (kind, key)))
            .collect();
        if !classified.is_empty() {
            let mut pipe = redis::pipe();
            for (kind, key) in &classified {
                pipe.cmd("MEMORY").arg("USAGE").arg(key);
                if is_record(kind) {
                    // A record HASH; anything else under the same prefix answers nil or an error.
                    pipe.cmd("HGET").arg(key).arg("fetched_at_ms");
                }
            }
            let replies: Vec<redis::Value> = pipe.query_async(conn).await?;
            let mut replies = replies.into_iter();
            for (kind, _) in &classified {
                let entry = stats.get_mut(kind).expect("every kind is listed");
                entry.keys += 1;
                entry.memory_bytes += number(replies.next()).unwrap_or(0);
                if is_record(kind)
                    && let Some(at) = number(replies.next())
                {
                    entry.oldest_fetched_at_ms =
                        Some(entry.oldest_fetched_at_ms.map_or(at, |old| old.min(at)));
                }
            }
        }
        cursor = next;
        if cursor == 0 {
            return Ok(());
        }
    }
}

fn is_record(kind: &str) -> bool {
    matches!(kind, "prices" | "markets" | "wallets")
}

fn number(value: Option<redis::Value>) -> Option<u64> {
    match value? {
        redis::Value::Int(n) => u64::try_from(n).ok(),
        redis::Value::BulkString(bytes) => std::str::from_utf8(&bytes).ok()?.parse().ok(),
        _ => None,
    }
}
