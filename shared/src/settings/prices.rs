//! Which symbols are tracked, how each maps to its CoinGecko id, and how long a price stays fresh.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

use super::{
    PriceSource, ScheduleEntry, ScheduleTable, TierEntry,
    tiers::{TierSettings, cron_every, default_tiers},
};
use crate::{
    domain::{CoinId, Symbol},
    jobs::Queue,
};

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
    /// The catalogue's coins refreshed by rank (see [`super::tiers`]); the tracked set stays
    /// the `prices` schedule entry's.
    pub tiers: BTreeMap<String, TierSettings>,
    /// The price chain: the upstreams a price job asks, in order, each next one only for the
    /// coins the ones before it did not price. Default `["coingecko", "binance"]`; Alchemy and
    /// CoinCap need their keys. `COINBEAT_PRICES__PROVIDERS='["coingecko","alchemy","coincap","binance"]'`.
    pub providers: Vec<PriceSource>,
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
            tiers: default_tiers(),
            providers: PriceSource::DEFAULT.to_vec(),
        }
    }
}

impl PricesSettings {
    /// The CoinGecko id of `symbol`, if one is configured.
    pub fn coin_id(&self, symbol: &Symbol) -> Option<&str> {
        self.coins.get(symbol.as_str()).map(String::as_str)
    }

    /// [`Self::coin_id`] as a [`CoinId`] (every configured id is one: [`Self::normalize_coins`]
    /// refuses the rest when the settings load).
    pub fn coin(&self, symbol: &Symbol) -> Option<CoinId> {
        self.coin_id(symbol).and_then(|id| CoinId::parse(id).ok())
    }

    /// Rewrites the coin table with symbol keys (uppercase), as [`Self::coin_id`] expects.
    /// Layers can spell a symbol differently (environment keys arrive lowercased, `btc` next to
    /// the built-in `BTC`); of two spellings, the one that changes the built-in id is the
    /// override. Two different overrides of one symbol are an error.
    pub fn normalize_coins(&mut self) -> Result<(), String> {
        let builtin: BTreeMap<&str, &str> = DEFAULT_COINS.iter().copied().collect();
        let mut normalized: BTreeMap<String, String> = BTreeMap::new();
        for (key, id) in std::mem::take(&mut self.coins) {
            let symbol = Symbol::parse(&key)
                .map_err(|e| format!("[prices.coins] key {key:?}: {e}"))?
                .to_string();
            let id = id.trim().to_owned();
            if id.is_empty() {
                return Err(format!("[prices.coins] {symbol}: the coin id is empty"));
            }
            CoinId::parse(&id).map_err(|e| format!("[prices.coins] {symbol}: {e}"))?;
            let default = builtin.get(symbol.as_str()).copied();
            match normalized.get(&symbol) {
                None => {
                    normalized.insert(symbol, id);
                }
                Some(existing) if *existing == id => {}
                Some(existing) if Some(existing.as_str()) == default => {
                    normalized.insert(symbol, id);
                }
                Some(_) if Some(id.as_str()) == default => {}
                Some(existing) => {
                    return Err(format!(
                        "[prices.coins] {symbol} is given two ids, {existing:?} and {id:?}"
                    ));
                }
            }
        }
        self.coins = normalized;
        Ok(())
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

    /// Adds a `prices-<tier>` entry per enabled tier at its configured interval (an entry of
    /// that name in the table wins). Tiers tick at different seconds past the minute.
    pub fn extend_schedule(&self, table: &mut ScheduleTable) {
        for (index, (name, tier)) in self.tiers.iter().filter(|(_, t)| t.enabled).enumerate() {
            let offset_secs = 5 + 10 * index as u64;
            table
                .entry(format!("prices-{name}"))
                .or_insert_with(|| ScheduleEntry {
                    cron: cron_every(tier.every_secs, offset_secs),
                    kind: Queue::Prices,
                    args: serde_json::json!({ "tier": name }),
                    enabled: true,
                    tier: Some(TierEntry {
                        tier: name.clone(),
                        every_secs: tier.every_secs,
                        configured_every_secs: tier.every_secs,
                        stretched: false,
                        offset_secs,
                    }),
                });
        }
    }

    /// Tracked symbols that have no coin id: a configuration error, reported at start-up.
    pub fn unmapped(&self) -> Vec<&Symbol> {
        self.tracked
            .iter()
            .filter(|s| self.coin_id(s).is_none())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_in_another_spelling_replaces_the_builtin_id() {
        let mut p = PricesSettings::default();
        p.coins.insert("btc".into(), "wrapped-bitcoin".into());
        p.coins.insert("pepe".into(), " pepe ".into());
        p.normalize_coins().unwrap();
        let sym = |s| Symbol::parse(s).unwrap();
        assert_eq!(p.coin_id(&sym("BTC")), Some("wrapped-bitcoin"));
        assert_eq!(p.coin_id(&sym("PEPE")), Some("pepe"));
        assert_eq!(p.coin_id(&sym("ETH")), Some("ethereum"));
        assert!(
            p.coins
                .keys()
                .all(|k| k.chars().all(|c| !c.is_ascii_lowercase()))
        );

        let mut p = PricesSettings::default();
        p.coins.insert("Eth".into(), "a".into());
        p.coins.insert("eth".into(), "b".into());
        assert!(p.normalize_coins().unwrap_err().contains("two ids"));

        let mut p = PricesSettings::default();
        p.coins.insert("B-TC".into(), "x".into());
        assert!(p.normalize_coins().unwrap_err().contains("B-TC"));

        let mut p = PricesSettings::default();
        p.coins.insert("PEPE".into(), "Pepe Coin".into());
        let error = p.normalize_coins().unwrap_err();
        assert!(
            error.contains("PEPE") && error.contains("Pepe Coin"),
            "{error}"
        );
    }
}
