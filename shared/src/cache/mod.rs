//! The cache: what workers write and the API reads, with the rules that make it honest.
//!
//! - [`PriceRecord`]: one symbol's USD price as the upstream gave it, with when and from where.
//! - [`PriceCache`]: atomic newest-wins writes (a re-delivered job never rolls a record back),
//!   one history point per write, an update event per record, reads by symbol.
//! - [`MarketSnapshot`], [`GlobalStats`], [`CoinSupply`], [`MarketCache`]: market data, each
//!   document newest-wins.
//! - [`RateRecord`], [`RateCache`]: exchange rates from USD, each newest-wins, for `?vs=`.
//! - [`HealthReport`]: the latest report of the health worker.
//! - [`Freshness`]: a record's age and whether it is stale.
//! - [`WalletAnalysis`], [`WalletCache`]: one wallet's analysis, newest-wins, by chain and address.
//! - [`sweep_prices`]: cleanup of expired records and old history points.
//! - [`cache_stats`]: keys, memory and oldest record per kind, for the operator.

mod error;
mod freshness;
mod health;
mod market;
mod market_cache;
mod price;
mod price_cache;
mod price_migration;
mod price_sweep;
mod rates;
mod stats;
mod wallet;
mod wallet_cache;

/// Writes one whole-document record (a market document, a wallet analysis), newest wins,
/// atomically.
static WRITE_NEWEST: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("lua/write_newest.lua")));

pub use error::CacheError;
pub use freshness::Freshness;
pub use health::{HealthReport, QueueHealth, RateLimitHealth, RedisHealth, Status, UpstreamHealth};
pub use market::{CoinSupply, GlobalStats, MarketRow, MarketSnapshot};
pub use market_cache::MarketCache;
pub use price::{HistoryPoint, PriceRecord};
pub use price_cache::{PriceCache, WriteOutcome};
pub use price_migration::migrate_symbol_keys;
pub use price_sweep::{PriceSweep, sweep_prices};
pub use rates::{RATE_EXPIRY, RateCache, RateRecord};
pub use stats::{KINDS, KindStats, cache_stats};
pub use wallet::{Counterparty, TokenHolding, WalletAnalysis, WalletFlags};
pub use wallet_cache::WalletCache;
