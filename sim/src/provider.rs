//! The upstream providers the sim speaks for: a closed set that keys per-provider faults, counters
//! and rate-limit windows.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// `/api/v3/...`
    CoinGecko,
    /// `/binance/api/v3/...`
    Binance,
    /// `/etherscan/v2/api`
    Etherscan,
    /// `/api/tickers/`, `/api/ticker/`
    CoinLore,
    /// `/coincap/prices` (a WebSocket) and the REST `/coincap/v3/assets`
    CoinCap,
    /// `/alchemy/prices/v1/{apiKey}/tokens/by-symbol`
    Alchemy,
    /// `/alphavantage/query?function=CURRENCY_EXCHANGE_RATE`
    AlphaVantage,
}

impl Provider {
    pub const ALL: [Self; 7] = [
        Self::CoinGecko,
        Self::Binance,
        Self::Etherscan,
        Self::CoinLore,
        Self::CoinCap,
        Self::Alchemy,
        Self::AlphaVantage,
    ];

    /// The name used in JSON (`/sim/control`, `/sim/stats`): `coingecko`, `binance`, ...
    pub fn label(self) -> &'static str {
        match self {
            Self::CoinGecko => "coingecko",
            Self::Binance => "binance",
            Self::Etherscan => "etherscan",
            Self::CoinLore => "coinlore",
            Self::CoinCap => "coincap",
            Self::Alchemy => "alchemy",
            Self::AlphaVantage => "alphavantage",
        }
    }

    /// Whether the sim serves a WebSocket stream of this provider, which the `stream_` faults
    /// act on.
    pub fn has_stream(self) -> bool {
        match self {
            Self::Binance | Self::CoinCap => true,
            Self::CoinGecko
            | Self::Etherscan
            | Self::CoinLore
            | Self::Alchemy
            | Self::AlphaVantage => false,
        }
    }
}
