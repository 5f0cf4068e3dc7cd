//! Queue names and job payloads: the one contract between whoever enqueues and whoever executes.
//!
//! A payload is plain serde JSON. [`Queue`] is the queues the API, the beat and the CLI may
//! enqueue by kind; a queue only its own worker knows (a payload beside the worker, as `ProbeJob`
//! here) needs no variant. ARCHITECTURE.md's recipe "Add a queue and its worker" has the steps.

use std::fmt;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::{
    alerts::{AlertId, Condition},
    domain::{Address, Chain, CoinId, Currency, Symbol},
};

/// A validated queue name: 1 to 64 of `a-z`, `0-9`, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

/// The name is not a valid queue name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue name {0:?} must be 1-64 characters of a-z, 0-9, '-' or '_'")]
pub struct QueueNameError(String);

impl QueueName {
    pub fn parse(input: &str) -> Result<Self, QueueNameError> {
        let ok = !input.is_empty()
            && input.len() <= 64
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(QueueNameError(input.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for QueueName {
    type Error = QueueNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<QueueName> for String {
    fn from(q: QueueName) -> Self {
        q.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The product's queues, one worker binary each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Queue {
    Prices,
    Market,
    Wallet,
    Health,
    Cleanup,
    Catalogue,
    History,
    Rates,
    Alerts,
}

impl Queue {
    pub const ALL: [Queue; 9] = [
        Queue::Prices,
        Queue::Market,
        Queue::Wallet,
        Queue::Health,
        Queue::Cleanup,
        Queue::Catalogue,
        Queue::History,
        Queue::Rates,
        Queue::Alerts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Prices => "prices",
            Queue::Market => "market",
            Queue::Wallet => "wallet",
            Queue::Health => "health",
            Queue::Cleanup => "cleanup",
            Queue::Catalogue => "catalogue",
            Queue::History => "history",
            Queue::Rates => "rates",
            Queue::Alerts => "alerts",
        }
    }

    pub fn name(self) -> QueueName {
        QueueName(self.as_str().to_owned())
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of the product's queues (job kinds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job kind {0:?}; expected one of prices, market, wallet, health, cleanup, catalogue, \
     history, rates, alerts"
)]
pub struct UnknownKind(pub String);

impl std::str::FromStr for Queue {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Queue::ALL
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// A payload that belongs to one queue.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The queue this payload travels on.
    fn queue() -> QueueName;
}

/// Refresh USD prices: of coin ids, or of symbols (each names its pinned or best-ranked coin),
/// or, with neither, of the tracked set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// At most one of the three (`check_args` refuses two); none: the tracked set.
#[cfg_attr(feature = "openapi", schema(max_properties = 1))]
#[serde(deny_unknown_fields)]
pub struct PricesJob {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 10_000))]
    pub symbols: Option<Vec<Symbol>>,
    /// Coin ids (`bitcoin`), any catalogued coin or not (seed 001's update by coin id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 10_000))]
    pub ids: Option<Vec<CoinId>>,
    /// A `[prices.tiers]` name: the catalogue's coins of that tier's ranks, from its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

/// Refresh the top-N markets, global stats and supply figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MarketJob {
    /// How many of the top coins by market cap; `DEFAULT_LIMIT` when left out.
    #[serde(default = "MarketJob::default_limit")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 1000, default = 100)
    )]
    pub limit: u32,
    /// Also refresh the tracked coins' supply figures (one CoinGecko call per coin); on when
    /// left out. Supplies change slowly: the default schedule reads them daily.
    #[serde(default = "MarketJob::default_supply")]
    pub supply: bool,
}

impl MarketJob {
    /// The top-N a market job fetches when it does not say (the default schedule's too).
    pub const DEFAULT_LIMIT: u32 = 100;

    fn default_limit() -> u32 {
        Self::DEFAULT_LIMIT
    }

    fn default_supply() -> bool {
        true
    }
}

/// Analyse one wallet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WalletJob {
    /// Ethereum when left out.
    #[serde(default)]
    pub chain: Chain,
    pub address: Address,
}

/// Probe upstreams, Redis, queues and workers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HealthJob {}

/// Refresh the exchange rates from USD: of `currencies`, or, without, of `rates.currencies`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RatesJob {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<Vec<String>>, min_items = 1, max_items = 25)
    )]
    pub currencies: Option<Vec<Currency>>,
}

impl RatesJob {
    /// Most currencies one job names: a free Alpha Vantage key's whole day.
    pub const MAX_CURRENCIES: usize = 25;
}

/// Deliver one crossing of one alert to its webhook. Enqueued by the price write that crossed
/// it (`alerts::AlertWatch`), with [`Self::trigger`] as its idempotency key; never by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertJob {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub alert_id: AlertId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub coin: CoinId,
    pub symbol: String,
    pub condition: Condition,
    /// The price that crossed.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub usd: Decimal,
    /// The price it replaced.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub previous_usd: Decimal,
    /// For a `move` alert, the price it moved from (the window's oldest history point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub reference_usd: Option<Decimal>,
    /// The crossing price's as-of and fetch times (`cache::PriceRecord::order`).
    pub as_of: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
    /// Which upstream the price came from.
    pub source: String,
}

impl AlertJob {
    /// The trigger's identity, `alert:{id}:{as-of ms}:{fetched ms}`: one alert, one price
    /// record (no two records of a coin share both times). Its idempotency key on the queue,
    /// and the `Idempotency-Key` its webhook receives.
    pub fn trigger(&self) -> String {
        format!(
            "alert:{}:{}:{}",
            self.alert_id,
            self.as_of.timestamp_millis(),
            self.fetched_at.timestamp_millis()
        )
    }
}

/// Expire records, trim histories, prune finished task records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CleanupJob {}

/// Refresh the coin catalogue: every listed coin with its rank (see `catalogue::CatalogueStore`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CatalogueJob {}

/// Store history in PostgreSQL (`[history]`; refused while `DATABASE_URL` is not set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HistoryJob {
    /// Store the cached prices of a set of coins, and the catalogue's metadata of each.
    Snapshot(SnapshotJob),
    /// Fetch one coin's past prices over a range from CoinGecko and store them.
    Backfill(BackfillJob),
}

/// One coin's past over one range: fetched in chunks of up to 90 days (hourly points), each
/// stored with the backfill's progress, so a backfill stopped at any point resumes after the
/// last chunk it stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BackfillJob {
    /// The coin's id (CoinGecko's, `bitcoin`).
    pub coin: CoinId,
    /// The range's first instant (RFC 3339).
    #[serde(deserialize_with = "rfc3339")]
    pub from: chrono::DateTime<chrono::Utc>,
    /// Its last instant (RFC 3339), after `from`; at most 10 years after it.
    #[serde(deserialize_with = "rfc3339")]
    pub to: chrono::DateTime<chrono::Utc>,
}

/// An RFC 3339 time, refused with a message that shows the form and what came.
fn rfc3339<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<chrono::DateTime<chrono::Utc>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "a time must be RFC 3339 (2025-01-01T00:00:00Z), got {raw:?}"
            ))
        })
}

impl BackfillJob {
    /// The longest range one backfill task covers.
    pub const MAX_RANGE: chrono::TimeDelta = chrono::TimeDelta::days(3_660);
}

/// Which coins a snapshot stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SnapshotJob {
    /// `tracked` (the tracked coins, the default), `ranked` (every catalogued coin with a
    /// cached price) or a `[prices.tiers]` tier.
    #[serde(default = "SnapshotJob::tracked")]
    pub set: String,
}

impl SnapshotJob {
    fn tracked() -> String {
        crate::settings::TRACKED.to_owned()
    }
}

macro_rules! on_queue {
    ($($job:ty => $queue:expr),* $(,)?) => {
        $(impl Job for $job {
            fn queue() -> QueueName {
                $queue.name()
            }
        })*
    };
}

on_queue!(
    PricesJob => Queue::Prices,
    MarketJob => Queue::Market,
    WalletJob => Queue::Wallet,
    HealthJob => Queue::Health,
    CleanupJob => Queue::Cleanup,
    CatalogueJob => Queue::Catalogue,
    HistoryJob => Queue::History,
    RatesJob => Queue::Rates,
    AlertJob => Queue::Alerts,
);

/// A diagnostic task on the `probe` queue: it does nothing but what it asks for (sleep, fail).
/// It measures the queue machinery without an upstream (`coinbeat bench queue`) and lets the
/// process tests hold tasks in flight or make them fail on purpose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeJob {
    /// Caller's sequence number, echoed in the result so tests can account for every task.
    #[serde(default)]
    pub seq: u64,
    /// How long the task runs.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Count this run in the probe run ledger, so a test can prove every task ran exactly once.
    #[serde(default)]
    pub record: bool,
    /// Fail on purpose with this kind of error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<ProbeFailure>,
    /// Note when the task started (`Keys::probe_starts`), so `coinbeat bench queue` can measure
    /// enqueue→start latency.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stamp: bool,
}

/// Which error a probe task returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeFailure {
    Permanent,
    Transient,
}

impl Job for ProbeJob {
    fn queue() -> QueueName {
        QueueName("probe".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_queue_names_are_the_nine_documented_ones() {
        let names: Vec<_> = Queue::ALL.iter().map(|q| q.as_str()).collect();
        assert_eq!(
            names,
            [
                "prices",
                "market",
                "wallet",
                "health",
                "cleanup",
                "catalogue",
                "history",
                "rates",
                "alerts"
            ]
        );
        assert_eq!(CatalogueJob::queue().as_str(), "catalogue");
        assert_eq!(RatesJob::queue().as_str(), "rates");
        assert_eq!(AlertJob::queue().as_str(), "alerts");
        assert_eq!(PricesJob::queue().as_str(), "prices");
        assert_eq!(WalletJob::queue().as_str(), "wallet");
    }

    #[test]
    fn queue_names_are_validated() {
        assert!(QueueName::parse("prices").is_ok());
        assert!(QueueName::parse("t-01_x").is_ok());
        assert!(QueueName::parse("").is_err());
        assert!(QueueName::parse("Prices").is_err());
        assert!(QueueName::parse("a:b").is_err());
    }

    #[test]
    fn payloads_parse_their_domain_types_at_the_edge() {
        let job: WalletJob = serde_json::from_str(
            r#"{"chain":"ethereum","address":"0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe"}"#,
        )
        .unwrap();
        assert_eq!(
            job.address.as_str(),
            "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae"
        );
        assert!(
            serde_json::from_str::<WalletJob>(r#"{"chain":"ethereum","address":"0x12"}"#).is_err()
        );
        let prices: PricesJob = serde_json::from_str(r#"{"symbols":["btc","eth"]}"#).unwrap();
        assert_eq!(prices.symbols.unwrap()[0].as_str(), "BTC");
        assert_eq!(serde_json::to_string(&PricesJob::default()).unwrap(), "{}");
    }
}
