//! An in-process copy of the catalogue with its lookups: by id, by symbol, and a ranked prefix
//! search. Built once per catalogue refresh (14,000 coins in a few milliseconds); reads are
//! hash lookups and, for search, one pass over the coins in rank order.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{CatalogueCoin, normalize_symbol};
use crate::domain::CoinId;

/// The catalogue in rank order, indexed.
#[derive(Debug, Clone, Default)]
pub struct CoinIndex {
    /// Ranked coins by rank, then the unranked by id.
    coins: Vec<CatalogueCoin>,
    by_id: HashMap<String, usize>,
    /// Symbol → positions in `coins`, best-ranked first.
    by_symbol: HashMap<String, Vec<usize>>,
    /// Lowercased names, by position, for the search.
    names: Vec<String>,
    /// Symbol → the coin it means whatever outranks it (the settings' `[prices.coins]`).
    pins: HashMap<String, String>,
}

/// How a query named a coin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Matched {
    /// The query is the coin's id.
    Id,
    /// The query is a symbol the settings pin to this coin.
    PinnedSymbol,
    /// The query is a symbol; this is its best-ranked coin.
    Symbol,
}

/// The coin a query names, and the other coins sharing its symbol when it was a symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lookup<'a> {
    pub coin: &'a CatalogueCoin,
    pub matched: Matched,
    /// Other coins listed under the same symbol, best-ranked first (empty for an id).
    pub alternatives: Vec<&'a CatalogueCoin>,
}

/// No catalogued coin has that id or symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no catalogued coin has the id or symbol {0:?}")]
pub struct NotCatalogued(pub String);

impl CoinIndex {
    /// Indexes `coins` (a repeated id keeps its best-ranked entry); `pins` maps a symbol to the
    /// id it means (keys in any case).
    pub fn new(mut coins: Vec<CatalogueCoin>, pins: &BTreeMap<String, String>) -> Self {
        coins.sort_by(|a, b| a.rank_order().cmp(&b.rank_order()));
        let mut seen = std::collections::HashSet::with_capacity(coins.len());
        coins.retain(|coin| seen.insert(coin.id.clone()));
        let mut by_id = HashMap::with_capacity(coins.len());
        let mut by_symbol: HashMap<String, Vec<usize>> = HashMap::with_capacity(coins.len());
        let mut names = Vec::with_capacity(coins.len());
        for (position, coin) in coins.iter().enumerate() {
            by_id.entry(coin.id.as_str().to_owned()).or_insert(position);
            by_symbol
                .entry(coin.symbol.clone())
                .or_default()
                .push(position);
            names.push(coin.name.to_lowercase());
        }
        let pins = pins
            .iter()
            .map(|(symbol, id)| (normalize_symbol(symbol), id.clone()))
            .collect();
        Self {
            coins,
            by_id,
            by_symbol,
            names,
            pins,
        }
    }

    pub fn len(&self) -> usize {
        self.coins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.coins.is_empty()
    }

    /// Every coin, best-ranked first.
    pub fn ranked(&self) -> &[CatalogueCoin] {
        &self.coins
    }

    pub fn get(&self, id: &CoinId) -> Option<&CatalogueCoin> {
        self.by_id.get(id.as_str()).map(|&i| &self.coins[i])
    }

    /// The coin `query` names: an id first (`bitcoin`, exact), else a symbol in any case
    /// (`btc`, `BTC`): the pinned coin when the settings pin the symbol to a catalogued id,
    /// else the best-ranked coin with that symbol, listing the others as alternatives.
    pub fn resolve(&self, query: &str) -> Result<Lookup<'_>, NotCatalogued> {
        let query = query.trim();
        if let Some(&i) = self.by_id.get(query) {
            return Ok(Lookup {
                coin: &self.coins[i],
                matched: Matched::Id,
                alternatives: Vec::new(),
            });
        }
        let symbol = normalize_symbol(query);
        let positions = self
            .by_symbol
            .get(&symbol)
            .ok_or_else(|| NotCatalogued(query.to_owned()))?;
        let pinned = self
            .pins
            .get(&symbol)
            .and_then(|id| self.by_id.get(id.as_str()).copied());
        let (chosen, matched) = match pinned {
            Some(i) => (i, Matched::PinnedSymbol),
            None => (positions[0], Matched::Symbol),
        };
        Ok(Lookup {
            coin: &self.coins[chosen],
            matched,
            alternatives: positions
                .iter()
                .filter(|&&i| i != chosen)
                .map(|&i| &self.coins[i])
                .collect(),
        })
    }

    /// Coins whose name, symbol or id starts with `query` (any case), best-ranked first, at
    /// most `limit`. An empty query matches nothing.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&CatalogueCoin> {
        if query.trim().is_empty() {
            return Vec::new();
        }
        self.list(Some(query), None, limit)
    }

    /// Up to `limit` coins in rank order that come after `after` (a coin's
    /// [`CatalogueCoin::rank_order`], so a page boundary holds across refreshes) and, with a
    /// `search`, match it as [`Self::search`] does (an empty search matches every coin).
    pub fn list(
        &self,
        search: Option<&str>,
        after: Option<(u32, &str)>,
        limit: usize,
    ) -> Vec<&CatalogueCoin> {
        let start = after.map_or(0, |after| {
            self.coins
                .partition_point(|coin| coin.rank_order() <= after)
        });
        let lower = search.unwrap_or("").trim().to_lowercase();
        let upper = normalize_symbol(&lower);
        self.coins[start..]
            .iter()
            .zip(&self.names[start..])
            .filter(|(coin, name)| {
                lower.is_empty()
                    || name.starts_with(&lower)
                    || coin.symbol.starts_with(&upper)
                    || coin.id.as_str().starts_with(&lower)
            })
            .map(|(coin, _)| coin)
            .take(limit)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coin(id: &str, symbol: &str, name: &str, rank: Option<u32>) -> CatalogueCoin {
        CatalogueCoin {
            id: CoinId::parse(id).unwrap(),
            symbol: symbol.into(),
            name: name.into(),
            rank,
            market_cap_usd: None,
            platforms: BTreeMap::new(),
        }
    }

    fn index(pins: &[(&str, &str)]) -> CoinIndex {
        let pins = pins
            .iter()
            .map(|(s, id)| ((*s).to_owned(), (*id).to_owned()))
            .collect();
        CoinIndex::new(
            vec![
                coin("bitcoin-bep2", "BTC", "Bitcoin BEP2", Some(900)),
                coin("bitcoin", "BTC", "Bitcoin", Some(1)),
                coin("bitcoin-cash", "BCH", "Bitcoin Cash", Some(20)),
                coin("btc-unranked", "BTC", "Old Bitcoin Fork", None),
                coin("ethereum", "ETH", "Ethereum", Some(2)),
                coin("bitcoin", "BTC", "A duplicate row", Some(5)),
            ],
            &pins,
        )
    }

    #[test]
    fn ids_match_exactly_and_symbols_in_any_case_pick_the_best_ranked_coin() {
        let index = index(&[]);
        assert_eq!(index.len(), 5, "the duplicate id is dropped");
        let by_id = index.resolve("bitcoin").unwrap();
        assert_eq!(
            (by_id.coin.name.as_str(), by_id.matched),
            ("Bitcoin", Matched::Id)
        );
        assert!(by_id.alternatives.is_empty());

        let by_symbol = index.resolve(" btc ").unwrap();
        assert_eq!(by_symbol.coin.id.as_str(), "bitcoin");
        assert_eq!(by_symbol.matched, Matched::Symbol);
        let alternatives: Vec<&str> = by_symbol
            .alternatives
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(alternatives, ["bitcoin-bep2", "btc-unranked"]);

        assert_eq!(
            index.resolve("Bitcoin").unwrap_err(),
            NotCatalogued("Bitcoin".into()),
            "ids are case-sensitive and a name is not a symbol"
        );
        assert!(index.resolve("doge").is_err());
    }

    #[test]
    fn a_pin_beats_rank_unless_its_coin_is_not_catalogued() {
        let pinned = index(&[("btc", "bitcoin-bep2")]);
        let lookup = pinned.resolve("BTC").unwrap();
        assert_eq!(lookup.coin.id.as_str(), "bitcoin-bep2");
        assert_eq!(lookup.matched, Matched::PinnedSymbol);
        assert_eq!(lookup.alternatives[0].id.as_str(), "bitcoin");

        let dangling = index(&[("BTC", "not-listed")]);
        assert_eq!(dangling.resolve("BTC").unwrap().coin.id.as_str(), "bitcoin");
    }

    #[test]
    fn search_matches_name_symbol_or_id_prefixes_best_ranked_first() {
        let index = index(&[]);
        let found: Vec<&str> = index
            .search("bit", 10)
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(found, ["bitcoin", "bitcoin-cash", "bitcoin-bep2"]);
        let found: Vec<&str> = index
            .search("BC", 10)
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(found, ["bitcoin-cash"]);
        assert_eq!(index.search("bit", 1).len(), 1);
        assert!(index.search("  ", 10).is_empty());
        assert!(index.search("zzz", 10).is_empty());
    }

    #[test]
    fn pages_continue_after_the_last_coin_even_when_it_is_gone() {
        let index = index(&[]);
        let ids = |coins: Vec<&CatalogueCoin>| -> Vec<String> {
            coins.iter().map(|c| c.id.to_string()).collect()
        };
        assert_eq!(ids(index.list(None, None, 2)), ["bitcoin", "ethereum"]);
        assert_eq!(
            ids(index.list(None, Some((2, "ethereum")), 2)),
            ["bitcoin-cash", "bitcoin-bep2"]
        );
        assert_eq!(
            ids(index.list(None, Some((900, "bitcoin-bep2")), 5)),
            ["btc-unranked"]
        );
        // A boundary coin that vanished (or moved) still splits the order in the same place.
        assert_eq!(
            ids(index.list(None, Some((3, "gone")), 1)),
            ["bitcoin-cash"]
        );
        assert_eq!(
            ids(index.list(Some("bit"), Some((1, "bitcoin")), 5)),
            ["bitcoin-cash", "bitcoin-bep2"]
        );
    }
}
