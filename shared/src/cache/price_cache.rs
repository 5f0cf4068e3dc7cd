//! Reading and writing cached prices.

use std::sync::LazyLock;

use redis::{Script, aio::ConnectionManager};

use super::{CacheError, HistoryPoint, PriceRecord};
use crate::{alerts::move_log, domain::CoinId, keys::Keys, settings::PricesSettings};

static WRITE_PRICES: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/write_prices.lua")));

/// Records per script call: bounds the time one call holds Redis.
const WRITE_CHUNK: usize = 500;

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Records that replaced an older one (or were the first).
    pub written: usize,
    /// Records not newer than the cached one, left out.
    pub skipped: usize,
    /// Written records of coins with alerts, logged for the alerts' evaluation
    /// (`alerts::MoveLog`).
    pub moves_logged: usize,
}

/// The price cache of one deployment.
#[derive(Debug, Clone)]
pub struct PriceCache {
    conn: ConnectionManager,
    keys: Keys,
    expire_ms: u64,
    history_points: u64,
    /// The least time between two history points written by ticks (0: every tick adds one).
    tick_history_every_ms: u64,
}

impl PriceCache {
    pub fn new(conn: ConnectionManager, keys: Keys, settings: &PricesSettings) -> Self {
        Self {
            conn,
            keys,
            expire_ms: settings.expire_after().as_millis() as u64,
            history_points: settings.history_points,
            tick_history_every_ms: 0,
        }
    }

    /// Ticks add a history point only when the symbol's newest one is at least `every` old.
    pub fn with_tick_history_every(mut self, every: std::time::Duration) -> Self {
        self.tick_history_every_ms = every.as_millis() as u64;
        self
    }

    /// Writes each record unless the cache already holds one as new or newer
    /// ([`PriceRecord::order`]: as of the same time or later, then fetched at the same time or
    /// later), adds a history point and publishes the record on the price event channel, all in
    /// one atomic step per chunk. A record that loses on as-of but was fetched later still
    /// brings its market cap into the cached one (an aggregator's figure a stream lacks).
    pub async fn write(&self, records: &[PriceRecord]) -> Result<WriteOutcome, CacheError> {
        self.write_as(records, "whole").await
    }

    /// [`Self::write`] for an exchange stream's records, which carry no market cap (and no 24 h
    /// figures before the stream's first ticker): a newer one keeps the cached record's figures
    /// instead of erasing them, and adds a history point only as often as
    /// [`Self::with_tick_history_every`] says.
    pub async fn write_ticks(&self, records: &[PriceRecord]) -> Result<WriteOutcome, CacheError> {
        self.write_as(records, "tick").await
    }

    async fn write_as(
        &self,
        records: &[PriceRecord],
        mode: &str,
    ) -> Result<WriteOutcome, CacheError> {
        let mut outcome = WriteOutcome::default();
        for chunk in records.chunks(WRITE_CHUNK) {
            let mut invocation = WRITE_PRICES.prepare_invoke();
            invocation
                .key(self.keys.alerts_coins())
                .key(self.keys.alert_moves())
                .arg(self.expire_ms)
                .arg(self.history_points)
                .arg(self.keys.price_events())
                .arg(mode)
                .arg(self.tick_history_every_ms)
                .arg(move_log::MAX_ENTRIES);
            for record in chunk {
                let record_json = serde_json::to_string(record).expect("records serialize");
                let point = HistoryPoint {
                    t: record.fetched_at.timestamp_millis(),
                    usd: record.usd,
                };
                let point_json = serde_json::to_string(&point).expect("points serialize");
                invocation
                    .key(self.keys.price(&record.coin_id))
                    .key(self.keys.price_history(&record.coin_id))
                    .arg(point.t)
                    .arg(record.as_of().timestamp_millis())
                    .arg(record_json)
                    .arg(point_json)
                    .arg(record.coin_id.as_str());
            }
            let (written, logged): (usize, usize) =
                invocation.invoke_async(&mut self.conn.clone()).await?;
            outcome.written += written;
            outcome.skipped += chunk.len() - written;
            outcome.moves_logged += logged;
        }
        Ok(outcome)
    }

    /// The cached record of `coin`, if there is one.
    pub async fn get(&self, coin: &CoinId) -> Result<Option<PriceRecord>, CacheError> {
        Ok(self
            .get_many(std::slice::from_ref(coin))
            .await?
            .pop()
            .flatten())
    }

    /// The cached records of `coins`, in the same order (`None` where there is none).
    pub async fn get_many(&self, coins: &[CoinId]) -> Result<Vec<Option<PriceRecord>>, CacheError> {
        let mut pipe = redis::pipe();
        for coin in coins {
            pipe.hget(self.keys.price(coin), "record");
        }
        let raw: Vec<Option<String>> = pipe.query_async(&mut self.conn.clone()).await?;
        coins
            .iter()
            .zip(raw)
            .map(|(coin, json)| {
                json.map(|json| {
                    serde_json::from_str(&json).map_err(|source| CacheError::Corrupt {
                        key: self.keys.price(coin),
                        source,
                    })
                })
                .transpose()
            })
            .collect()
    }

    /// The newest `limit` history points of `coin`, oldest first.
    pub async fn history(
        &self,
        coin: &CoinId,
        limit: usize,
    ) -> Result<Vec<HistoryPoint>, CacheError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key = self.keys.price_history(coin);
        let mut raw: Vec<String> = redis::cmd("ZRANGE")
            .arg(&key)
            .arg(0)
            .arg(limit as i64 - 1)
            .arg("REV")
            .query_async(&mut self.conn.clone())
            .await?;
        raw.reverse();
        raw.iter()
            .map(|json| {
                serde_json::from_str(json).map_err(|source| CacheError::Corrupt {
                    key: key.clone(),
                    source,
                })
            })
            .collect()
    }

    /// The history points of `coin` fetched from `since_ms` to `until_ms` (unix ms, both
    /// included), newest first, at most `limit` of them; `None` when `coin` has no history at
    /// all (never fetched, or expired). One round trip.
    pub async fn history_between(
        &self,
        coin: &CoinId,
        since_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Option<Vec<HistoryPoint>>, CacheError> {
        let key = self.keys.price_history(coin);
        let (exists, raw): (bool, Vec<String>) = redis::pipe()
            .exists(&key)
            .cmd("ZRANGE")
            .arg(&key)
            .arg(until_ms)
            .arg(since_ms)
            .arg("BYSCORE")
            .arg("REV")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.conn.clone())
            .await?;
        if !exists {
            return Ok(None);
        }
        raw.iter()
            .map(|json| {
                serde_json::from_str(json).map_err(|source| CacheError::Corrupt {
                    key: key.clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}
