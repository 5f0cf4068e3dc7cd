//! A ticker symbol such as `BTC`: uppercase ASCII letters and digits, normalised on parse.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize};

/// A ticker symbol, always uppercase, 1 to 15 ASCII letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Symbol(String);

/// Why a string is not a symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    #[error("symbol is empty")]
    Empty,
    #[error("symbol {0:?} is longer than 15 characters")]
    TooLong(String),
    #[error("symbol {0:?} may contain only ASCII letters and digits")]
    BadCharacter(String),
}

impl Symbol {
    /// Parses user input: surrounding whitespace is ignored and letters are uppercased.
    pub fn parse(input: &str) -> Result<Self, SymbolError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(SymbolError::Empty);
        }
        if s.len() > 15 {
            return Err(SymbolError::TooLong(s.to_owned()));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SymbolError::BadCharacter(s.to_owned()));
        }
        Ok(Self(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_case_and_whitespace() {
        assert_eq!(Symbol::parse(" btc ").unwrap().as_str(), "BTC");
        assert_eq!(Symbol::parse("1INCH").unwrap().as_str(), "1INCH");
    }

    #[test]
    fn parse_rejects_empty_long_and_odd_input() {
        assert_eq!(Symbol::parse("  "), Err(SymbolError::Empty));
        assert!(matches!(
            Symbol::parse("ABCDEFGHIJKLMNOP"),
            Err(SymbolError::TooLong(_))
        ));
        assert!(matches!(
            Symbol::parse("BTC/USD"),
            Err(SymbolError::BadCharacter(_))
        ));
        assert!(serde_json::from_str::<Symbol>("\"B-TC\"").is_err());
    }
}
