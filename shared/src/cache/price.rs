//! The cached price of one symbol.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::Symbol;

/// One symbol's USD price as the upstream gave it. Decimals keep the upstream's digits exactly
/// and travel as JSON strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceRecord {
    pub symbol: Symbol,
    /// The upstream's id of the coin (e.g. CoinGecko's `bitcoin`).
    pub coin_id: String,
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

/// One point of a symbol's price history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Fetched-at, unix milliseconds.
    pub t: i64,
    pub usd: Decimal,
}
