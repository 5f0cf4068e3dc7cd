//! Which limiter: an upstream provider, plus a short fingerprint of the API key where the
//! provider limits per key. The key itself never reaches a Redis key, a log or a metric.

use std::fmt;

use serde::{Deserialize, Serialize};
use tiny_keccak::{Hasher, Keccak};

use crate::settings::Secret;

/// The upstreams coinbeat calls, each with its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    CoinGecko,
    Binance,
    Etherscan,
    CoinLore,
    /// Alchemy's Prices API (by symbol): a link of the price chain.
    Alchemy,
    /// CoinCap's REST API (v3): a link of the price chain. Its stream (the stream-worker's
    /// second source) is a WebSocket and takes no permits.
    CoinCap,
    /// Alpha Vantage: the exchange rates (`rates` queue).
    AlphaVantage,
}

impl Provider {
    pub const ALL: [Provider; 7] = [
        Provider::CoinGecko,
        Provider::Binance,
        Provider::Etherscan,
        Provider::CoinLore,
        Provider::Alchemy,
        Provider::CoinCap,
        Provider::AlphaVantage,
    ];

    /// The lowercase name used in settings paths, Redis keys and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CoinGecko => "coingecko",
            Self::Binance => "binance",
            Self::Etherscan => "etherscan",
            Self::CoinLore => "coinlore",
            Self::Alchemy => "alchemy",
            Self::CoinCap => "coincap",
            Self::AlphaVantage => "alphavantage",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of one limiter: every process that builds the same id shares the same state
/// in Redis. Prints as `etherscan` or `etherscan:k1a2b3c4d5e6f`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LimiterId {
    provider: Provider,
    /// [`FINGERPRINT_HEX`] lowercase hex digits of keccak-256 over the key, or `None` for a
    /// limit per IP address (or per deployment) rather than per key.
    key_fingerprint: Option<String>,
}

/// Hex digits of the key fingerprint: 48 bits, enough that two keys of one deployment never
/// share a limiter by accident, far too few to tell anything about the key.
pub const FINGERPRINT_HEX: usize = 12;

/// Hashed before the key so the fingerprint is ours alone and cannot be looked up in a table
/// of plain keccak-256 hashes.
const FINGERPRINT_DOMAIN: &[u8] = b"coinbeat rate limit key fingerprint\0";

impl LimiterId {
    /// One limiter for the provider as a whole (per IP address: Binance, CoinLore, keyless
    /// CoinGecko).
    pub fn new(provider: Provider) -> Self {
        Self {
            provider,
            key_fingerprint: None,
        }
    }

    /// One limiter per API key of the provider (Etherscan, CoinGecko with a key). A blank key
    /// is no key: the provider-wide limiter.
    pub fn with_key(provider: Provider, key: &Secret) -> Self {
        let key = key.expose().trim();
        if key.is_empty() {
            return Self::new(provider);
        }
        let mut keccak = Keccak::v256();
        keccak.update(FINGERPRINT_DOMAIN);
        keccak.update(key.as_bytes());
        let mut hash = [0u8; 32];
        keccak.finalize(&mut hash);
        let hex: String = hash
            .iter()
            .flat_map(|b| [b >> 4, b & 0x0f])
            .take(FINGERPRINT_HEX)
            .map(|nibble| char::from_digit(u32::from(nibble), 16).expect("a nibble"))
            .collect();
        Self {
            provider,
            key_fingerprint: Some(hex),
        }
    }

    /// [`Self::with_key`] when a key is given, [`Self::new`] otherwise.
    pub fn for_key(provider: Provider, key: Option<&Secret>) -> Self {
        match key {
            Some(key) => Self::with_key(provider, key),
            None => Self::new(provider),
        }
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The fingerprint of the key this limiter is for, if any.
    pub fn key_fingerprint(&self) -> Option<&str> {
        self.key_fingerprint.as_deref()
    }
}

impl fmt::Display for LimiterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key_fingerprint {
            Some(fp) => write!(f, "{}:k{fp}", self.provider),
            None => f.write_str(self.provider.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_short_fingerprint_and_another_key_another() {
        let a = LimiterId::with_key(Provider::Etherscan, &Secret::new("ABCDEF123"));
        let again = LimiterId::with_key(Provider::Etherscan, &Secret::new(" ABCDEF123 "));
        let b = LimiterId::with_key(Provider::Etherscan, &Secret::new("ABCDEF124"));
        assert_eq!(a, again);
        assert_ne!(a, b);
        let fp = a.key_fingerprint().unwrap();
        assert_eq!(fp.len(), FINGERPRINT_HEX);
        assert!(
            fp.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(a.to_string(), format!("etherscan:k{fp}"));
    }

    #[test]
    fn a_blank_key_is_the_provider_wide_limiter() {
        let blank = LimiterId::with_key(Provider::CoinGecko, &Secret::new("  "));
        assert_eq!(blank, LimiterId::new(Provider::CoinGecko));
        assert_eq!(blank.to_string(), "coingecko");
    }
}
