//! The cached price of one symbol.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::CoinId;

/// One coin's USD price as the upstream gave it. Decimals keep the upstream's digits exactly
/// and travel as JSON strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceRecord {
    /// The coin's ticker as listed (upper case), for display: not unique (many coins share
    /// one) and not always a [`crate::domain::Symbol`] (listings carry `USDC.E`).
    pub symbol: String,
    /// The coin's id (CoinGecko's, e.g. `bitcoin`): the record's key.
    pub coin_id: CoinId,
    pub usd: Decimal,
    /// Percent change over 24 hours; absent when the upstream has none (CoinGecko sends `null`
    /// for stale coins).
    pub change_24h_pct: Option<Decimal>,
    pub market_cap_usd: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
    /// When the upstream last updated the price, if it says.
    pub upstream_updated_at: Option<DateTime<Utc>>,
    /// When the worker asked the upstream for it: the order of records (newest wins) and their
    /// age. The time of asking, not of the answer's arrival, because the data is at least that
    /// fresh and an answer can sit in a worker for a long time (a paused or descheduled
    /// process, a slow write): a late answer to an older question must never pass for newer
    /// than an answer to a question asked after it (the pause scenario of `coinbeat faults`).
    pub fetched_at: DateTime<Utc>,
    /// Which upstream it came from, e.g. `coingecko`.
    pub source: String,
}

impl PriceRecord {
    /// The exchange's event time, for a record an exchange stream wrote (its `source` ends in
    /// `-ws`: `binance-ws`, `coincap-ws`).
    pub fn exchange_time(&self) -> Option<DateTime<Utc>> {
        self.source
            .ends_with("-ws")
            .then_some(self.upstream_updated_at)
            .flatten()
    }

    /// The moment the price is of: the upstream's own time for it (a trade's event time on an
    /// exchange stream, an aggregator's `last_updated_at`) when it says, but never later than
    /// when it was fetched (an upstream clock ahead of ours, or a bogus time, must not hold
    /// every later record back); otherwise when it was fetched.
    pub fn as_of(&self) -> DateTime<Utc> {
        self.upstream_updated_at
            .map_or(self.fetched_at, |at| at.min(self.fetched_at))
    }

    /// The order of records of one coin, whichever path wrote them: newest [`Self::as_of`]
    /// first, then newest `fetched_at` (the same price asked for again later is newer news of
    /// it). `write_prices.lua`, the API's in-process copy and each live stream use it.
    pub fn order(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.as_of(), self.fetched_at)
    }
}

/// One point of a symbol's price history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Fetched-at, unix milliseconds.
    pub t: i64,
    pub usd: Decimal,
}
