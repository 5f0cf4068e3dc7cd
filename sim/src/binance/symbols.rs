//! Which pairs Binance lists on the sim: `{SYMBOL}USDT` for every built-in coin but USDT itself
//! (and, with [`crate::StreamConfig::list_synthetic_on_binance`], for each synthetic ticker's
//! first holder: Binance has one pair per ticker, so copycats and bridged tokens get none and
//! `BTCUSDT` is always bitcoin), while the coin is listed; and how a request picks them
//! (`symbol=BTCUSDT`, `symbols=["BTCUSDT","ETHUSDT"]`, or all). A pair names exactly one coin.

use std::collections::HashMap;

use crate::market::Market;

/// A listed pair and the CoinGecko id of its base coin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// `{TICKER}USDT`, e.g. `BTCUSDT`.
    pub symbol: String,
    /// The CoinGecko id of the base coin, e.g. `bitcoin`.
    pub coin_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Selection {
    One(String),
    Many(Vec<String>),
    All,
}

impl Selection {
    /// Errors are Binance's (code, msg).
    pub(super) fn parse(params: &HashMap<String, String>) -> Result<Self, (i32, &'static str)> {
        match (params.get("symbol"), params.get("symbols")) {
            (Some(_), Some(_)) => Err(super::responses::BAD_COMBINATION),
            (Some(one), None) => Ok(Self::One(one.clone())),
            (None, Some(many)) => serde_json::from_str::<Vec<String>>(many)
                .ok()
                .filter(|list| !list.is_empty())
                .map(Self::Many)
                .ok_or(super::responses::ILLEGAL_SYMBOLS),
            (None, None) => Ok(Self::All),
        }
    }

    /// The pairs asked for, in the order asked; `None` when any symbol is not listed (Binance
    /// refuses the whole request).
    pub(super) fn pairs(&self, market: &Market) -> Option<Vec<Pair>> {
        let listed = listed(market);
        let symbols = match self {
            Self::All => return Some(listed),
            Self::One(symbol) => std::slice::from_ref(symbol),
            Self::Many(symbols) => symbols.as_slice(),
        };
        // A thousand listed pairs and as many asked for: look them up, not scan for each.
        let by_symbol: HashMap<&str, &Pair> =
            listed.iter().map(|p| (p.symbol.as_str(), p)).collect();
        symbols
            .iter()
            .map(|s| by_symbol.get(s.as_str()).map(|&pair| pair.clone()))
            .collect()
    }

    /// How many pairs the request covers, for its weight (`None`: all).
    pub(super) fn count(&self) -> Option<usize> {
        match self {
            Self::One(_) => Some(1),
            Self::Many(list) => Some(list.len()),
            Self::All => None,
        }
    }
}

/// Every listed pair, in catalogue order: one per ticker, of a coin listed now.
pub(crate) fn listed(market: &Market) -> Vec<Pair> {
    let quotes = market.quotes();
    // Only the candidates: 10,000 synthetic coins Binance does not list cost nothing here.
    (0..market.binance_candidates())
        .filter(|&index| quotes.is_listed(index))
        .filter_map(|index| {
            let info = quotes.info(index);
            info.on_binance.then(|| Pair {
                symbol: format!("{}USDT", info.symbol),
                coin_id: market.id(index),
            })
        })
        .collect()
}
