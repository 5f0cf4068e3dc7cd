//! One catalogued coin.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::CoinId;

/// A coin as the catalogue stores it. Optional fields are left out of the JSON when absent, so
/// the long tail (no rank, no contracts) costs little in Redis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogueCoin {
    /// CoinGecko's id (CoinLore's `nameid` when the catalogue came from CoinLore).
    pub id: CoinId,
    /// The ticker as listed, uppercased ([`normalize_symbol`]); not unique: many coins share one.
    pub symbol: String,
    pub name: String,
    /// Market-cap rank, 1 for the largest; absent past the ranked depth or without market data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_cap_usd: Option<Decimal>,
    /// Chain (CoinGecko's platform id, e.g. `ethereum`) → contract address, for tokens.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platforms: BTreeMap<String, String>,
}

impl CatalogueCoin {
    /// The order of the catalogue: ranked coins by rank, then the unranked by id.
    pub fn rank_order(&self) -> (u32, &str) {
        (self.rank.unwrap_or(u32::MAX), self.id.as_str())
    }
}

/// A listed ticker as the catalogue keys it: trimmed and uppercased (CoinGecko lists `btc`,
/// CoinLore and Binance `BTC`). Tickers are not restricted further: listings carry `USDC.E` or
/// `$WIF`, and they must still be findable.
pub fn normalize_symbol(symbol: &str) -> String {
    symbol.trim().to_uppercase()
}
