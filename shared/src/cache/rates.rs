//! Exchange rates from USD, one record per currency (`Keys::exchange_rate`), written whole and
//! newest-wins like the market documents, so a late or re-delivered `rates` job never rolls a
//! rate back. The API multiplies USD figures by them for `?vs=`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::CacheError;
use crate::{domain::Currency, keys::Keys};

/// How long a rate stays in Redis after its last refresh: past `rates.fresh_secs` it is served
/// marked stale; after a week it is gone, and `?vs=` for it is refused.
pub const RATE_EXPIRY: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3_600);

/// One exchange rate: how many units of `currency` one US dollar buys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateRecord {
    pub currency: Currency,
    /// Units of `currency` per US dollar, exactly as the upstream gave it.
    pub per_usd: Decimal,
    /// When the upstream says the rate is of, if it says.
    pub as_of: Option<DateTime<Utc>>,
    /// When the worker asked for it.
    pub fetched_at: DateTime<Utc>,
    /// Which upstream it came from, e.g. `alphavantage`.
    pub source: String,
}

/// The exchange rates of one deployment.
#[derive(Debug, Clone)]
pub struct RateCache {
    conn: ConnectionManager,
    keys: Keys,
}

impl RateCache {
    pub fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys }
    }

    /// Stores `rate` unless one fetched at the same time or later is held; returns whether it
    /// was written.
    pub async fn write(&self, rate: &RateRecord) -> Result<bool, CacheError> {
        let json = serde_json::to_string(rate).expect("rates serialize");
        let written: i64 = super::WRITE_NEWEST
            .key(self.keys.exchange_rate(rate.currency))
            .arg(rate.fetched_at.timestamp_millis())
            .arg(json)
            .arg(RATE_EXPIRY.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(written == 1)
    }

    /// The rates held of `currencies` (one round trip); a currency with none is absent.
    pub async fn get_many(
        &self,
        currencies: &[Currency],
    ) -> Result<BTreeMap<Currency, RateRecord>, CacheError> {
        if currencies.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut pipe = redis::pipe();
        for currency in currencies {
            pipe.hget(self.keys.exchange_rate(*currency), "record");
        }
        let raw: Vec<Option<String>> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(raw
            .into_iter()
            .flatten()
            // A record that does not parse (written by a future release) is as good as none.
            .filter_map(|json| serde_json::from_str::<RateRecord>(&json).ok())
            .map(|rate| (rate.currency, rate))
            .collect())
    }
}
