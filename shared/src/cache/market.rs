//! The cached market data: the top-N snapshot, the global stats and each coin's supply.
//! Numbers are exact decimals with the upstream's digits; a figure the upstream did not give is
//! absent, never made up.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The top coins by market cap at one moment, from one upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketSnapshot {
    /// Largest market cap first.
    pub rows: Vec<MarketRow>,
    /// When the worker received it: the order of snapshots (newest wins) and their age.
    pub fetched_at: DateTime<Utc>,
    /// Which upstream it came from: `coingecko`, or `coinlore` when CoinGecko failed.
    pub source: String,
}

/// One coin of a [`MarketSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarketRow {
    /// CoinGecko's id (CoinLore's `nameid`, which follows the same slugs).
    pub coin_id: String,
    /// The upstream's ticker, as sent (CoinGecko's are lowercase).
    pub symbol: String,
    pub name: String,
    pub rank: Option<u32>,
    pub price_usd: Option<Decimal>,
    pub market_cap_usd: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
    pub change_24h_pct: Option<Decimal>,
    pub circulating_supply: Option<Decimal>,
    pub total_supply: Option<Decimal>,
    /// Absent for uncapped coins (ETH).
    pub max_supply: Option<Decimal>,
    /// When the upstream last updated the row, if it says.
    pub upstream_updated_at: Option<DateTime<Utc>>,
}

/// The whole market's figures (CoinGecko `/global`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GlobalStats {
    pub total_market_cap_usd: Option<Decimal>,
    pub total_volume_usd: Option<Decimal>,
    /// Bitcoin's share of the total market cap, percent.
    pub btc_dominance_pct: Option<Decimal>,
    pub eth_dominance_pct: Option<Decimal>,
    pub active_cryptocurrencies: Option<u64>,
    pub upstream_updated_at: Option<DateTime<Utc>>,
    pub fetched_at: DateTime<Utc>,
    pub source: String,
}

/// One coin's tokenomics (CoinGecko `/coins/{id}` market data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoinSupply {
    pub coin_id: String,
    pub symbol: String,
    pub name: String,
    pub circulating_supply: Option<Decimal>,
    pub total_supply: Option<Decimal>,
    /// Absent for uncapped coins.
    pub max_supply: Option<Decimal>,
    pub fetched_at: DateTime<Utc>,
    pub source: String,
}
