//! A CoinGecko-style coin id such as `bitcoin` or `usd-coin`: the key of supply records.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest id accepted; CoinGecko's longest ids are well under this.
const MAX_LEN: usize = 100;

/// A coin id: 1 to 100 of lowercase ASCII letters, digits, `-`, `_` or `.`, starting with a
/// letter or digit (so it is safe inside a Redis key and a URL path).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CoinId(String);

/// Why a string is not a coin id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "coin id {0:?} must be 1-100 characters of a-z, 0-9, '-', '_' or '.', starting with a \
     letter or digit (e.g. `bitcoin`, `usd-coin`)"
)]
pub struct CoinIdError(String);

impl CoinId {
    pub fn parse(input: &str) -> Result<Self, CoinIdError> {
        let ok = !input.is_empty()
            && input.len() <= MAX_LEN
            && input.as_bytes()[0].is_ascii_alphanumeric()
            && input.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(CoinIdError(input.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for CoinId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for CoinId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coin_ids_are_lowercase_slugs() {
        assert!(CoinId::parse("bitcoin").is_ok());
        assert!(CoinId::parse("usd-coin").is_ok());
        assert!(CoinId::parse("wrapped_steth.v2").is_ok());
        assert!(CoinId::parse("").is_err());
        assert!(CoinId::parse("Bitcoin").is_err());
        assert!(CoinId::parse("-btc").is_err());
        assert!(CoinId::parse("a:b").is_err());
        assert!(CoinId::parse(&"a".repeat(101)).is_err());
    }
}
