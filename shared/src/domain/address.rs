//! An EVM account address (`0x` + 40 hex digits), stored lowercase.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize};

/// A 20-byte EVM address in lowercase hex with its `0x` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Address(String);

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address {0:?} must start with 0x")]
    MissingPrefix(String),
    #[error("address {0:?} must have exactly 40 hex digits after 0x")]
    BadLength(String),
    #[error("address {0:?} contains a character that is not a hex digit")]
    NotHex(String),
}

impl Address {
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let s = input.trim();
        let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) else {
            return Err(AddressError::MissingPrefix(s.to_owned()));
        };
        if hex.len() != 40 {
            return Err(AddressError::BadLength(s.to_owned()));
        }
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AddressError::NotHex(s.to_owned()));
        }
        Ok(Self(format!("0x{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_any_case_and_stores_lowercase() {
        let a = Address::parse("0xDE0B295669a9FD93d5F28D9Ec85E40f4cb697BAe").unwrap();
        assert_eq!(a.as_str(), "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae");
    }

    #[test]
    fn parse_rejects_wrong_prefix_length_and_digits() {
        assert!(matches!(
            Address::parse("de0b295669a9fd93d5f28d9ec85e40f4cb697bae"),
            Err(AddressError::MissingPrefix(_))
        ));
        assert!(matches!(
            Address::parse("0x1234"),
            Err(AddressError::BadLength(_))
        ));
        assert!(matches!(
            Address::parse("0xzz0b295669a9fd93d5f28d9ec85e40f4cb697bae"),
            Err(AddressError::NotHex(_))
        ));
    }
}
