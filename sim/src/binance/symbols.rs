//! Which pairs Binance lists on the sim: `{SYMBOL}USDT` for every built-in coin but USDT itself,
//! and how a request picks them (`symbol=BTCUSDT`, `symbols=["BTCUSDT","ETHUSDT"]`, or all).

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
        let find = |symbol: &str| listed.iter().find(|p| p.symbol == symbol).cloned();
        match self {
            Self::One(symbol) => find(symbol).map(|pair| vec![pair]),
            Self::Many(symbols) => symbols.iter().map(|s| find(s)).collect(),
            Self::All => Some(listed),
        }
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
    (0..market.coin_count())
        .map(|index| market.id(index))
        // Synthetic coins come last and are never listed.
        .take_while(|id| !id.starts_with("sim-coin-"))
        .filter_map(|coin_id| {
            let info = market.info(&coin_id)?;
            info.on_binance.then(|| Pair {
                symbol: format!("{}USDT", info.symbol),
                coin_id,
            })
        })
        .collect()
}
