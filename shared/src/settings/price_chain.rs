//! The price chain (`prices.providers`): the upstreams a price job asks, in order. The first
//! is asked for every coin; each next one only for the coins no link before it priced (its
//! request failed, or it does not know the coin).

use serde::{Deserialize, Serialize};

use crate::ratelimit::Provider;

/// Most symbols one Alchemy `tokens/by-symbol` request names (its documented limit).
pub const ALCHEMY_SYMBOLS_PER_CALL: u64 = 25;
/// Most asset ids one CoinCap `/assets?ids=` request names (with `limit` as large: the
/// endpoint's default page is 100).
pub const COINCAP_IDS_PER_CALL: u64 = 100;

/// One link of the price chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceSource {
    /// `/simple/price` by coin id, in batches: prices, market caps, volumes, 24 h changes.
    CoinGecko,
    /// Alchemy's Prices API by symbol, 25 at a time: prices only. Needs a key.
    Alchemy,
    /// CoinCap's `/assets?ids=`, by CoinCap's asset id: prices, market caps, volumes, 24 h
    /// changes. Needs a key.
    CoinCap,
    /// Binance's 24 h tickers of the coins' USDT pairs: last trade prices and volumes.
    Binance,
}

impl PriceSource {
    /// The chain when the settings name none: CoinGecko, then Binance.
    pub const DEFAULT: [PriceSource; 2] = [PriceSource::CoinGecko, PriceSource::Binance];

    /// The upstream behind it (its limiter, breaker and settings).
    pub fn provider(self) -> Provider {
        match self {
            Self::CoinGecko => Provider::CoinGecko,
            Self::Alchemy => Provider::Alchemy,
            Self::CoinCap => Provider::CoinCap,
            Self::Binance => Provider::Binance,
        }
    }

    /// The name in the settings and in a price record's `source`.
    pub fn as_str(self) -> &'static str {
        self.provider().as_str()
    }

    /// Whether it names coins by their ticker rather than by id (a ticker many coins share
    /// names the best-ranked one, so such a link is asked only for coins their ticker names).
    pub fn by_symbol(self) -> bool {
        matches!(self, Self::Alchemy | Self::Binance)
    }
}

/// The chain names at least one link and none twice.
pub fn validate(chain: &[PriceSource]) -> Result<(), String> {
    if chain.is_empty() {
        return Err(
            "prices.providers is empty: name at least one of coingecko, alchemy, coincap, binance"
                .into(),
        );
    }
    for (i, link) in chain.iter().enumerate() {
        if chain[..i].contains(link) {
            return Err(format!(
                "prices.providers names {} twice: each upstream is one link of the chain",
                link.as_str()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_are_the_providers_names_and_parse_back() {
        for source in [
            PriceSource::CoinGecko,
            PriceSource::Alchemy,
            PriceSource::CoinCap,
            PriceSource::Binance,
        ] {
            let json = serde_json::to_string(&source).unwrap();
            assert_eq!(json, format!("\"{}\"", source.as_str()));
            assert_eq!(serde_json::from_str::<PriceSource>(&json).unwrap(), source);
        }
        assert!(serde_json::from_str::<PriceSource>("\"coinlore\"").is_err());
    }

    #[test]
    fn an_empty_chain_or_a_link_named_twice_is_refused() {
        assert!(validate(&PriceSource::DEFAULT).is_ok());
        assert!(validate(&[]).unwrap_err().contains("empty"));
        let twice = [
            PriceSource::Alchemy,
            PriceSource::CoinGecko,
            PriceSource::Alchemy,
        ];
        assert!(validate(&twice).unwrap_err().contains("alchemy twice"));
    }
}
