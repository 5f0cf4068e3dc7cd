//! EVM chains coinbeat can analyse, with the chain id Etherscan's V2 API expects.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A supported chain. Closed on purpose: each one needs a known chain id and native token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    /// The chain a request means when it names none.
    #[default]
    Ethereum,
    Polygon,
    Arbitrum,
    Optimism,
    Base,
    Bsc,
}

/// The name is not one of the supported chains.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown chain {0:?} (supported: ethereum, polygon, arbitrum, optimism, base, bsc)")]
pub struct ChainError(String);

impl Chain {
    pub const ALL: [Chain; 6] = [
        Chain::Ethereum,
        Chain::Polygon,
        Chain::Arbitrum,
        Chain::Optimism,
        Chain::Base,
        Chain::Bsc,
    ];

    /// The EIP-155 chain id (Etherscan V2's `chainid` parameter).
    pub fn id(self) -> u64 {
        match self {
            Chain::Ethereum => 1,
            Chain::Polygon => 137,
            Chain::Arbitrum => 42_161,
            Chain::Optimism => 10,
            Chain::Base => 8_453,
            Chain::Bsc => 56,
        }
    }

    /// The symbol of the chain's native coin, whose cached price values a balance.
    pub fn native_symbol(self) -> &'static str {
        match self {
            Chain::Ethereum | Chain::Arbitrum | Chain::Optimism | Chain::Base => "ETH",
            Chain::Polygon => "POL",
            Chain::Bsc => "BNB",
        }
    }

    /// The CoinGecko id of the native coin, whose cached price values a balance.
    pub fn native_coin(self) -> &'static str {
        match self {
            Chain::Ethereum | Chain::Arbitrum | Chain::Optimism | Chain::Base => "ethereum",
            Chain::Polygon => "polygon-ecosystem-token",
            Chain::Bsc => "binancecoin",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Ethereum => "ethereum",
            Chain::Polygon => "polygon",
            Chain::Arbitrum => "arbitrum",
            Chain::Optimism => "optimism",
            Chain::Base => "base",
            Chain::Bsc => "bsc",
        }
    }
}

impl FromStr for Chain {
    type Err = ChainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Chain::ALL
            .into_iter()
            .find(|c| c.as_str() == wanted)
            .ok_or_else(|| ChainError(s.to_owned()))
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_carry_chain_ids() {
        for c in Chain::ALL {
            assert_eq!(c.as_str().parse::<Chain>().unwrap(), c);
        }
        assert_eq!("Ethereum".parse::<Chain>().unwrap().id(), 1);
        assert!("solana".parse::<Chain>().is_err());
        for c in Chain::ALL {
            assert!(
                crate::domain::CoinId::parse(c.native_coin()).is_ok(),
                "{c:?}"
            );
        }
    }
}
