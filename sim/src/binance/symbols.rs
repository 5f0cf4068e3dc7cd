//! Which pairs Binance lists on the sim: `{SYMBOL}USDT` for every built-in coin but USDT itself
//! (and for synthetic coins, `S00001USDT`, with
//! [`crate::StreamConfig::list_synthetic_on_binance`]), and how a request picks them
//! (`symbol=BTCUSDT`, `symbols=["BTCUSDT","ETHUSDT"]`, or all).

use std::collections::HashMap;

use crate::market::Market;

/// A listed pair and the CoinGecko id of its base coin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pair {
    pub(super) symbol: String,
    pub(super) coin_id: String,
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

/// Every listed pair, in catalogue order.
pub(super) fn listed(market: &Market) -> Vec<Pair> {
    // Only the candidates: 10,000 unlisted synthetic coins cost nothing here.
    (0..market.binance_candidates())
        .map(|index| market.id(index))
        .filter_map(|coin_id| {
            let info = market.info(&coin_id)?;
            info.on_binance.then(|| Pair {
                symbol: format!("{}USDT", info.symbol),
                coin_id,
            })
        })
        .collect()
}
