//! A fiat currency such as `EUR`: an ISO 4217 alphabetic code, three ASCII letters, normalised
//! to upper case on parse. Prices are kept in US dollars; other currencies are shown through an
//! exchange rate (`cache::RateRecord`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize};

/// A currency code, always three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// The string is not a currency code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a currency code (three letters, like EUR or JPY)")]
pub struct CurrencyError(pub String);

impl Currency {
    /// The currency every price is kept in.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses user input: surrounding whitespace is ignored and letters are upper-cased.
    pub fn parse(input: &str) -> Result<Self, CurrencyError> {
        let s = input.trim();
        match s.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_alphabetic) => Ok(Self([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(CurrencyError(s.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("three ASCII letters")
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_upper_cases_and_refuses_what_is_not_three_letters() {
        assert_eq!(Currency::parse(" eur ").unwrap().as_str(), "EUR");
        assert_eq!(Currency::parse("Jpy").unwrap(), "JPY".parse().unwrap());
        for bad in ["", "EU", "EURO", "E1R", "€UR"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&Currency::USD).unwrap();
        assert_eq!(json, "\"USD\"");
        assert_eq!(
            serde_json::from_str::<Currency>("\"gbp\"")
                .unwrap()
                .as_str(),
            "GBP"
        );
    }
}
