//! Reading and writing cached market data. Each document (the snapshot, the global stats, one
//! coin's supply) is written whole and newest-wins, so a late or re-delivered job never rolls
//! the cache back.

use chrono::{DateTime, Utc};
use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Serialize, de::DeserializeOwned};

use super::{CacheError, CoinSupply, GlobalStats, MarketSnapshot};
use crate::{domain::CoinId, keys::Keys, settings::MarketsSettings};

/// The market cache of one deployment. Records expire after `markets.expire_secs`.
#[derive(Debug, Clone)]
pub struct MarketCache {
    conn: ConnectionManager,
    keys: Keys,
    expire_ms: u64,
}

impl MarketCache {
    pub fn new(conn: ConnectionManager, keys: Keys, settings: &MarketsSettings) -> Self {
        Self {
            conn,
            keys,
            expire_ms: settings.expire_after().as_millis() as u64,
        }
    }

    /// Stores `snapshot` unless a snapshot fetched at the same time or later is cached.
    /// Returns whether it was written.
    pub async fn write_snapshot(&self, snapshot: &MarketSnapshot) -> Result<bool, CacheError> {
        self.write(self.keys.market_snapshot(), snapshot.fetched_at, snapshot)
            .await
    }

    /// Stores `global` newest-wins; returns whether it was written.
    pub async fn write_global(&self, global: &GlobalStats) -> Result<bool, CacheError> {
        self.write(self.keys.market_global(), global.fetched_at, global)
            .await
    }

    /// Stores `supply` under `coin` newest-wins; returns whether it was written.
    pub async fn write_supply(
        &self,
        coin: &CoinId,
        supply: &CoinSupply,
    ) -> Result<bool, CacheError> {
        self.write(self.keys.coin_supply(coin), supply.fetched_at, supply)
            .await
    }

    pub async fn snapshot(&self) -> Result<Option<MarketSnapshot>, CacheError> {
        self.read(self.keys.market_snapshot()).await
    }

    pub async fn global(&self) -> Result<Option<GlobalStats>, CacheError> {
        self.read(self.keys.market_global()).await
    }

    pub async fn supply(&self, coin: &CoinId) -> Result<Option<CoinSupply>, CacheError> {
        self.read(self.keys.coin_supply(coin)).await
    }

    async fn write<T: Serialize>(
        &self,
        key: String,
        fetched_at: DateTime<Utc>,
        record: &T,
    ) -> Result<bool, CacheError> {
        let json = serde_json::to_string(record).expect("records serialize");
        let written: i64 = super::WRITE_NEWEST
            .key(key)
            .arg(fetched_at.timestamp_millis())
            .arg(json)
            .arg(self.expire_ms.max(1))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(written == 1)
    }

    async fn read<T: DeserializeOwned>(&self, key: String) -> Result<Option<T>, CacheError> {
        let raw: Option<String> = self.conn.clone().hget(&key, "record").await?;
        raw.map(|json| {
            serde_json::from_str(&json).map_err(|source| CacheError::Corrupt { key, source })
        })
        .transpose()
    }
}
