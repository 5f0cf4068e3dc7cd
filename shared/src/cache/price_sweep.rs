//! Cleanup of the price cache: records past their hard expiry (normally Redis expires them; this
//! catches any that lost their TTL), history points past the retention, and histories whose
//! record is gone.

use std::collections::HashSet;

use redis::{AsyncCommands, aio::ConnectionManager};
use serde::Serialize;

use super::CacheError;
use crate::{keys::Keys, settings::PricesSettings};

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PriceSweep {
    /// Price records older than the hard expiry, deleted with their history.
    pub expired_records: u64,
    /// History points older than the expiry or beyond `history_points`.
    pub history_points: u64,
    /// Histories left without a record.
    pub orphaned_histories: u64,
}

/// Sweeps every price key of the deployment. `now_ms` is the current time (unix ms).
pub async fn sweep_prices(
    conn: &ConnectionManager,
    keys: &Keys,
    settings: &PricesSettings,
    now_ms: i64,
) -> Result<PriceSweep, CacheError> {
    let mut c = conn.clone();
    let all = price_keys(conn, keys).await?;
    let (histories, records): (Vec<String>, Vec<String>) =
        all.into_iter().partition(|k| Keys::is_price_history(k));

    let expire_ms = settings.expire_after().as_millis() as i64;
    let cutoff = now_ms - expire_ms;
    let keep = settings.history_points as i64;
    let mut sweep = PriceSweep::default();
    let mut live: HashSet<String> = HashSet::new();

    for chunk in records.chunks(500) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.hget(key, "fetched_at_ms");
        }
        let stamps: Vec<Option<i64>> = pipe.query_async(&mut c).await?;
        let mut pipe = redis::pipe();
        let mut trims = 0;
        for (key, stamp) in chunk.iter().zip(stamps) {
            let history = Keys::price_history_of(key);
            if stamp.is_some_and(|t| t < cutoff) {
                pipe.del(key).ignore().del(&history).ignore();
                sweep.expired_records += 1;
            } else {
                live.insert(history.clone());
                pipe.zrembyscore(&history, "-inf", format!("({cutoff}"));
                if keep > 0 {
                    pipe.zremrangebyrank(&history, 0, -(keep as isize) - 1);
                    trims += 1;
                }
                trims += 1;
            }
        }
        let removed: Vec<u64> = pipe.query_async(&mut c).await?;
        debug_assert_eq!(removed.len(), trims);
        sweep.history_points += removed.iter().sum::<u64>();
    }

    let candidates: Vec<&String> = histories.iter().filter(|h| !live.contains(*h)).collect();
    for chunk in candidates.chunks(500) {
        // Look again: a record written since the scan began owns its history.
        let mut pipe = redis::pipe();
        for history in chunk {
            pipe.exists(Keys::price_record_of(history));
        }
        let exists: Vec<bool> = pipe.query_async(&mut c).await?;
        let orphans: Vec<&String> = chunk
            .iter()
            .zip(exists)
            .filter(|(_, exists)| !exists)
            .map(|(h, _)| *h)
            .collect();
        if !orphans.is_empty() {
            let removed: u64 = c.del(orphans).await?;
            sweep.orphaned_histories += removed;
        }
    }
    Ok(sweep)
}

/// Every price record and history key of the deployment (a SCAN, 1,000 keys a round trip).
pub(super) async fn price_keys(
    conn: &ConnectionManager,
    keys: &Keys,
) -> Result<Vec<String>, redis::RedisError> {
    let mut c = conn.clone();
    let mut all = Vec::new();
    let mut iter: redis::AsyncIter<String> = c
        .scan_options(
            redis::ScanOptions::default()
                .with_pattern(keys.price_pattern())
                .with_count(1_000),
        )
        .await?;
    while let Some(key) = futures::StreamExt::next(&mut iter).await {
        all.push(key?);
    }
    Ok(all)
}
