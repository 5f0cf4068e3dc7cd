//! Which symbols are tracked, how each maps to its CoinGecko id, and how long a price stays fresh.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

use crate::domain::Symbol;

/// The price cache's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PricesSettings {
    /// Symbols a price job without an explicit list refreshes, and `GET /v1/prices` lists.
    pub tracked: Vec<Symbol>,
    /// Symbol → CoinGecko coin id. Entries from the settings file are merged over the built-in
    /// ones, so tracking a new coin is one line: `[prices.coins] PEPE = "pepe"`.
    pub coins: BTreeMap<String, String>,
    /// A record older than this is served with `stale: true`.
    pub fresh_secs: u64,
    /// A record older than this is gone (Redis expires it): the cache never serves it.
    pub expire_secs: u64,
    /// History points kept per symbol (newest first); older ones are trimmed on write.
    pub history_points: u64,
}

/// The default tracked set (PRODUCT.md) with CoinGecko ids.
const DEFAULT_COINS: [(&str, &str); 12] = [
    ("USDT", "tether"),
    ("TRX", "tron"),
    ("BTC", "bitcoin"),
    ("LTC", "litecoin"),
    ("USDC", "usd-coin"),
    ("ETH", "ethereum"),
    ("WLD", "worldcoin-wld"),
    ("POL", "polygon-ecosystem-token"),
    ("OP", "optimism"),
    ("SOL", "solana"),
    ("BNB", "binancecoin"),
    ("AVAX", "avalanche-2"),
];

impl Default for PricesSettings {
    fn default() -> Self {
        Self {
            tracked: DEFAULT_COINS
                .iter()
                .map(|(s, _)| Symbol::parse(s).expect("built-in symbols are valid"))
                .collect(),
            coins: DEFAULT_COINS
                .iter()
                .map(|(s, id)| ((*s).to_owned(), (*id).to_owned()))
                .collect(),
            fresh_secs: 600,
            expire_secs: 7 * 24 * 3_600,
            history_points: 2_016,
        }
    }
}

impl PricesSettings {
    /// The CoinGecko id of `symbol`, if one is configured. Keys are matched case-insensitively
    /// (environment variables arrive lowercased).
    pub fn coin_id(&self, symbol: &Symbol) -> Option<&str> {
        self.coins
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(symbol.as_str()))
            .map(|(_, id)| id.as_str())
    }

    /// Whether `symbol` is in the tracked set.
    pub fn is_tracked(&self, symbol: &Symbol) -> bool {
        self.tracked.contains(symbol)
    }

    pub fn fresh_for(&self) -> Duration {
        Duration::from_secs(self.fresh_secs)
    }

    pub fn expire_after(&self) -> Duration {
        Duration::from_secs(self.expire_secs.max(self.fresh_secs).max(1))
    }

    /// Tracked symbols that have no coin id: a configuration error, reported at start-up.
    pub fn unmapped(&self) -> Vec<&Symbol> {
        self.tracked
            .iter()
            .filter(|s| self.coin_id(s).is_none())
            .collect()
    }
}
