//! Reading and writing cached wallet analyses.

use redis::{AsyncCommands, aio::ConnectionManager};

use super::{CacheError, WalletAnalysis};
use crate::{
    domain::{Address, Chain},
    keys::Keys,
    settings::WalletSettings,
};

/// The wallet cache of one deployment: one HASH per (chain, address) with `record` and
/// `fetched_at_ms`, expiring after `wallets.expire_secs`.
#[derive(Debug, Clone)]
pub struct WalletCache {
    conn: ConnectionManager,
    keys: Keys,
    expire_ms: u64,
}

impl WalletCache {
    pub fn new(conn: ConnectionManager, keys: Keys, settings: &WalletSettings) -> Self {
        Self {
            conn,
            keys,
            expire_ms: settings.expire_after().as_millis() as u64,
        }
    }

    /// Writes `analysis` unless the cache holds one fetched at the same time or later (a
    /// re-delivered or slow job never rolls the cache back). Returns whether it was written.
    pub async fn write(&self, analysis: &WalletAnalysis) -> Result<bool, CacheError> {
        let json = serde_json::to_string(analysis).expect("analyses serialize");
        let written: i64 = super::WRITE_NEWEST
            .key(self.keys.wallet(analysis.chain, &analysis.address))
            .arg(analysis.fetched_at.timestamp_millis())
            .arg(json)
            .arg(self.expire_ms)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(written == 1)
    }

    /// The cached analysis of `address` on `chain`, if there is one.
    pub async fn get(
        &self,
        chain: Chain,
        address: &Address,
    ) -> Result<Option<WalletAnalysis>, CacheError> {
        let key = self.keys.wallet(chain, address);
        let json: Option<String> = self.conn.clone().hget(&key, "record").await?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|source| CacheError::Corrupt { key, source })
        })
        .transpose()
    }
}
