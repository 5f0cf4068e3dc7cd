//! `tokens/by-symbol`'s answer: `{"data":[{"symbol","prices":[{"currency","value",
//! "lastUpdatedAt"}],"error"}]}`. HTTP 200 even when some symbols are unknown: those come back
//! with no prices and an `error`. `value` is a decimal string, read exactly.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

/// One symbol's USD price as Alchemy gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlchemyPrice {
    /// As Alchemy spells it (the symbol asked for).
    pub symbol: String,
    pub usd: Decimal,
    pub last_updated_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Envelope {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    symbol: String,
    #[serde(default)]
    prices: Vec<Price>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Price {
    currency: String,
    value: String,
    last_updated_at: Option<DateTime<Utc>>,
}

/// Parses a `tokens/by-symbol` body: one price per symbol that has a USD one. Symbols with no
/// price (unknown to Alchemy, the item's `error` set) are left out; so is a price that is not a
/// positive decimal. A body without `data` is an error.
pub fn parse_by_symbol(body: &str) -> Result<Vec<AlchemyPrice>, String> {
    let envelope: Envelope = serde_json::from_str(body).map_err(|e| {
        format!(
            "unexpected tokens/by-symbol body ({e}): {}",
            crate::http::excerpt(body)
        )
    })?;
    Ok(envelope
        .data
        .into_iter()
        .filter_map(|item| {
            let price = item
                .prices
                .into_iter()
                .find(|p| p.currency.eq_ignore_ascii_case("usd"))?;
            let usd = Decimal::from_str_exact(price.value.trim())
                .ok()
                .filter(|usd| usd.is_sign_positive() && !usd.is_zero())?;
            Some(AlchemyPrice {
                symbol: item.symbol,
                usd,
                last_updated_at: price.last_updated_at,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_prices_are_read_exactly_and_unknown_symbols_left_out() {
        let body = r#"{"data":[
            {"symbol":"ETH","prices":[{"currency":"usd","value":"3200.500000000000000001",
              "lastUpdatedAt":"2026-06-23T00:00:00Z"}],"error":null},
            {"symbol":"NOPE","prices":[],"error":{"message":"Token not found"}},
            {"symbol":"ZERO","prices":[{"currency":"usd","value":"0","lastUpdatedAt":null}],"error":null}
        ]}"#;
        let prices = parse_by_symbol(body).unwrap();
        assert_eq!(prices.len(), 1);
        assert_eq!(prices[0].symbol, "ETH");
        assert_eq!(prices[0].usd.to_string(), "3200.500000000000000001");
        assert_eq!(
            prices[0].last_updated_at.unwrap().to_rfc3339(),
            "2026-06-23T00:00:00+00:00"
        );
    }

    #[test]
    fn a_body_without_data_is_an_error_that_quotes_it() {
        let err = parse_by_symbol(r#"{"error":{"message":"Unauthorized"}}"#).unwrap_err();
        assert!(err.contains("Unauthorized"), "{err}");
    }
}
