//! [`LivePrices`]: an in-process copy of the cached price records, kept current by the price
//! event channel, so a price read costs no Redis round trip, and so reads go on while Redis is
//! unreachable.
//!
//! [`follow`] subscribes to `{prefix}:events:prices` first and only then loads every record from
//! Redis, so no write is missed in between; events are applied newest-wins, as the write script
//! does. The copy is *current* from a completed load until the subscription is lost. While it is
//! not, reads go to Redis as they would without it (misses and 404s are Redis's); only when
//! Redis cannot be reached does a read fall back to the copy as it was last known
//! ([`LivePrices::last_known`]), and says so; for half a second after such a read (or until the
//! follower subscribes again), reads answer from
//! the copy without asking Redis ([`LivePrices::skips_redis`]), so a Redis that hangs rather
//! than refuses costs one read its timeout, not every read. A record past the hard expiry counts as absent
//! (Redis expires it at the same age), current or not.
//!
//! On reconnecting, the load replaces the copy, newest wins: a coin Redis no longer holds
//! (expired or purged meanwhile) leaves it, and a record the copy holds newer than Redis's (a
//! Redis restored from an older snapshot) stays, as Redis's own write script would keep it.

use std::{
    collections::HashMap,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use coinbeat_shared::{
    cache::PriceRecord,
    domain::CoinId,
    keys::Keys,
    supervise::{Backoff, Restarts, supervise},
};
use futures::StreamExt;
use redis::{AsyncCommands, Client};
use tokio_util::sync::CancellationToken;

use crate::{AppState, price_json::Priced};

/// Records per pipelined `HGET` during the load.
const LOAD_CHUNK: usize = 500;
/// Bound on connecting and subscribing, so a stuck Redis does not stall the follower.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Between rounds: 100 ms doubling to 1 s while Redis is away (so the copy is current again
/// within about a second of Redis's return); a round that served for a second (it loaded)
/// starts the next after 100 ms again.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1))
    .healthy_after(Duration::from_secs(1));

type Records = HashMap<CoinId, Arc<Priced>>;

/// The copy: records by coin id, and whether it is current.
#[derive(Debug)]
pub struct LivePrices {
    records: RwLock<Records>,
    /// True between a completed load and the loss of the subscription.
    current: AtomicBool,
    /// True once a load has completed: the copy can stand in for an unreachable Redis.
    loaded: AtomicBool,
    /// When a read last found Redis unreachable (ms since the Unix epoch; 0: never), so the
    /// reads right after it answer from the copy without waiting on Redis again.
    redis_failed_ms: AtomicI64,
    expire_after: TimeDelta,
}

/// How long after a read found Redis unreachable the reads skip asking it: the most a read may
/// answer from the copy after Redis is back, unless the follower has resubscribed sooner (which
/// ends the skip).
const SKIP_REDIS_FOR: TimeDelta = TimeDelta::milliseconds(500);

impl LivePrices {
    /// An empty copy, not served until [`follow`] has loaded it.
    pub fn new(expire_after: Duration) -> Self {
        Self {
            records: RwLock::new(HashMap::new()),
            current: AtomicBool::new(false),
            loaded: AtomicBool::new(false),
            redis_failed_ms: AtomicI64::new(0),
            expire_after: TimeDelta::from_std(expire_after).unwrap_or(TimeDelta::MAX),
        }
    }

    /// Whether reads are served from the copy.
    pub fn is_current(&self) -> bool {
        self.current.load(Ordering::Acquire)
    }

    /// Whether the copy was ever loaded, so it can stand in while Redis is unreachable.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// A read found Redis unreachable at `now`.
    pub fn note_redis_unreachable(&self, now: DateTime<Utc>) {
        self.redis_failed_ms
            .store(now.timestamp_millis(), Ordering::Relaxed);
    }

    /// Redis answered the follower again: reads ask it again.
    fn note_redis_reachable(&self) {
        self.redis_failed_ms.store(0, Ordering::Relaxed);
    }

    /// Whether a read at `now` should answer from the copy without asking Redis: the copy is
    /// not current, was loaded, and a read found Redis unreachable within the last 500 ms.
    pub fn skips_redis(&self, now: DateTime<Utc>) -> bool {
        let failed = self.redis_failed_ms.load(Ordering::Relaxed);
        failed != 0
            && !self.is_current()
            && self.is_loaded()
            && now.timestamp_millis() - failed < SKIP_REDIS_FOR.num_milliseconds()
    }

    /// The record of each coin (same order) as the copy last knew it, current or not (within
    /// the hard expiry); for reads while Redis cannot be reached. All `None` before a load.
    pub fn last_known(&self, coins: &[CoinId], now: DateTime<Utc>) -> Vec<Option<Arc<Priced>>> {
        if !self.is_loaded() {
            return vec![None; coins.len()];
        }
        self.held(coins, now)
    }

    /// The record of each coin (same order) when the copy is current and holds a record within
    /// the hard expiry; `None` means "ask Redis".
    pub fn get_many(&self, coins: &[CoinId], now: DateTime<Utc>) -> Vec<Option<Arc<Priced>>> {
        if !self.is_current() {
            return vec![None; coins.len()];
        }
        self.held(coins, now)
    }

    fn held(&self, coins: &[CoinId], now: DateTime<Utc>) -> Vec<Option<Arc<Priced>>> {
        let mut expired = false;
        let found = {
            let records = self.records.read().unwrap_or_else(PoisonError::into_inner);
            coins
                .iter()
                .map(|coin| {
                    let record = records.get(coin)?;
                    if self.is_expired(record, now) {
                        expired = true;
                        None
                    } else {
                        Some(Arc::clone(record))
                    }
                })
                .collect()
        };
        if expired {
            self.remove_expired(now);
        }
        found
    }

    /// [`LivePrices::get_many`] for one coin.
    pub fn get(&self, coin: &CoinId, now: DateTime<Utc>) -> Option<Arc<Priced>> {
        if !self.is_current() {
            return None;
        }
        let record = {
            let records = self.records.read().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(records.get(coin)?)
        };
        if self.is_expired(&record, now) {
            self.remove_expired(now);
            return None;
        }
        Some(record)
    }

    /// Past the hard expiry, as the price sweep counts it.
    fn is_expired(&self, record: &PriceRecord, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(record.fetched_at) > self.expire_after
    }

    fn remove_expired(&self, now: DateTime<Utc>) {
        self.write()
            .retain(|_, record| !self.is_expired(record, now));
    }

    /// Keeps `record` unless the copy holds one as new or newer ([`PriceRecord::order`], as
    /// Redis orders them); returns it when it was kept.
    fn apply(records: &mut Records, record: Arc<Priced>) -> Option<Arc<Priced>> {
        match records.get(&record.coin_id) {
            Some(held) if held.order() >= record.order() => None,
            _ => {
                records.insert(record.coin_id.clone(), Arc::clone(&record));
                Some(record)
            }
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Records> {
        self.records.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_current(&self, current: bool) {
        if current {
            self.loaded.store(true, Ordering::Release);
        }
        self.current.store(current, Ordering::Release);
    }
}

/// Why one round of following ended.
#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("connecting or subscribing took longer than {0:?}")]
    Timeout(Duration),
    #[error("the price event subscription ended")]
    Ended,
}

/// Keeps `state`'s [`LivePrices`] current until `stop` is cancelled: subscribe, load, apply
/// events; on any error the copy is no longer current (it is kept, for reads while Redis is
/// unreachable), back off ([`BACKOFF`]) and start over.
pub async fn follow(state: AppState, client: Client, stop: CancellationToken) {
    supervise("price copy", BACKOFF, Restarts::Debug, &stop, || async {
        let result = tokio::select! {
            result = follow_once(&state, &client) => result,
            () = stop.cancelled() => Ok(()),
        };
        state.live_prices().set_current(false);
        result
    })
    .await;
}

/// One round: subscribe, then load, then apply events until the subscription ends.
async fn follow_once(state: &AppState, client: &Client) -> Result<(), FollowError> {
    let channel = state.keys().price_events();
    let mut pubsub = tokio::time::timeout(SUBSCRIBE_TIMEOUT, async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    })
    .await
    .map_err(|_| FollowError::Timeout(SUBSCRIBE_TIMEOUT))??;
    state.live_prices().note_redis_reachable();
    // Subscribed before loading: any write from now on is in the message stream.
    let loaded = load(state).await?;
    let live = state.live_prices();
    let events = state.price_events();
    {
        let mut records = live.write();
        let mut loaded = loaded;
        // What changed while the subscription was down (or before the first load) reaches the
        // streams too; a stream drops what it has already sent. Newest wins both ways.
        for record in loaded.values_mut() {
            match LivePrices::apply(&mut records, Arc::clone(record)) {
                Some(newer) => events.publish(newer),
                None => *record = Arc::clone(&records[&record.coin_id]),
            }
        }
        *records = loaded;
    }
    live.set_current(true);
    tracing::debug!("price copy loaded; serving reads from it");

    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let payload = message.get_payload_bytes();
        match serde_json::from_slice::<PriceRecord>(payload) {
            Ok(record) => {
                let kept = LivePrices::apply(&mut live.write(), Arc::new(Priced::new(record)));
                // Published outside the lock; only records newer than the copy's go out.
                if let Some(record) = kept {
                    events.publish(record);
                }
            }
            Err(e) => tracing::warn!(error = %e, "unreadable price event ignored"),
        }
    }
    Err(FollowError::Ended)
}

/// Every cached price record, newest per coin.
async fn load(state: &AppState) -> Result<Records, FollowError> {
    let mut conn = state.conn().clone();
    let mut keys: Vec<String> = Vec::new();
    {
        let mut iter: redis::AsyncIter<String> = conn
            .scan_options(
                redis::ScanOptions::default()
                    .with_pattern(state.keys().price_pattern())
                    .with_count(1_000),
            )
            .await?;
        while let Some(key) = iter.next().await {
            let key = key?;
            if !Keys::is_price_history(&key) {
                keys.push(key);
            }
        }
    }
    let mut records = Records::with_capacity(keys.len());
    for chunk in keys.chunks(LOAD_CHUNK) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.hget(key, "record");
        }
        let raw: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        for (key, json) in chunk.iter().zip(raw) {
            // A key gone between SCAN and HGET has no record; skip it.
            let Some(json) = json else { continue };
            match serde_json::from_str::<PriceRecord>(&json) {
                Ok(record) => {
                    LivePrices::apply(&mut records, Arc::new(Priced::new(record)));
                }
                Err(e) => tracing::warn!(%key, error = %e, "unreadable price record not copied"),
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_skip_redis_for_half_a_second_after_it_was_unreachable_while_the_copy_is_not_current() {
        let live = LivePrices::new(Duration::from_secs(3_600));
        let t0 = Utc::now();
        live.note_redis_unreachable(t0);
        assert!(
            !live.skips_redis(t0),
            "never loaded: nothing to answer from"
        );
        live.set_current(true);
        assert!(
            !live.skips_redis(t0),
            "current: reads are the copy's anyway"
        );
        live.set_current(false);
        assert!(live.skips_redis(t0 + TimeDelta::milliseconds(499)));
        assert!(
            !live.skips_redis(t0 + TimeDelta::milliseconds(500)),
            "half a second later, Redis is asked again"
        );
        live.note_redis_unreachable(t0);
        live.note_redis_reachable();
        assert!(!live.skips_redis(t0), "the follower reached Redis again");
    }
}
