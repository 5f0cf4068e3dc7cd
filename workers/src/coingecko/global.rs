//! `/global`'s answer: `{"data": {...}}` with per-currency maps (`total_market_cap`,
//! `total_volume`), dominance percentages and counts. Large values come in exponent notation
//! (`2.70016521312815e+15`); every number is read from its text into an exact decimal.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::simple_price::decimal;

/// The USD figures of `/global`.
#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    pub total_market_cap_usd: Option<Decimal>,
    pub total_volume_usd: Option<Decimal>,
    pub btc_dominance_pct: Option<Decimal>,
    pub eth_dominance_pct: Option<Decimal>,
    pub active_cryptocurrencies: Option<u64>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    data: Data<'a>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(default)]
    active_cryptocurrencies: Option<u64>,
    #[serde(borrow, default)]
    total_market_cap: HashMap<&'a str, &'a RawValue>,
    #[serde(borrow, default)]
    total_volume: HashMap<&'a str, &'a RawValue>,
    #[serde(borrow, default)]
    market_cap_percentage: HashMap<&'a str, &'a RawValue>,
    #[serde(default)]
    updated_at: Option<i64>,
}

/// Parses a `/global` body.
pub fn parse_global(body: &str) -> Result<Global, String> {
    let Body { data } =
        serde_json::from_str(body).map_err(|e| format!("unexpected /global body: {e}"))?;
    let number = |map: &HashMap<&str, &RawValue>, field: &str, key: &str| {
        map.get(key)
            .map(|raw| decimal(raw.get()))
            .transpose()
            .map(Option::flatten)
            .map_err(|e| format!("{field}.{key}: {e}"))
    };
    Ok(Global {
        total_market_cap_usd: number(&data.total_market_cap, "total_market_cap", "usd")?,
        total_volume_usd: number(&data.total_volume, "total_volume", "usd")?,
        btc_dominance_pct: number(&data.market_cap_percentage, "market_cap_percentage", "btc")?,
        eth_dominance_pct: number(&data.market_cap_percentage, "market_cap_percentage", "eth")?,
        active_cryptocurrencies: data.active_cryptocurrencies,
        updated_at: data
            .updated_at
            .and_then(|secs| DateTime::from_timestamp(secs, 0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponent_notation_becomes_exact_decimals() {
        let body = r#"{"data":{"active_cryptocurrencies":17111,"upcoming_icos":0,
            "total_market_cap":{"btc":32693688.21,"usd":2.515268352188766e+12,"ars":2.70016521312815e+15},
            "total_volume":{"btc":2577437.08,"usd":198293501804.3288},
            "market_cap_percentage":{"btc":60.708,"eth":7.155},
            "market_cap_change_percentage_24h_usd":-9.999293796813587,"updated_at":1744025333}}"#;
        let global = parse_global(body).unwrap();
        assert_eq!(
            global.total_market_cap_usd.unwrap().to_string(),
            "2515268352188.766"
        );
        assert_eq!(
            global.total_volume_usd.unwrap().to_string(),
            "198293501804.3288"
        );
        assert_eq!(global.btc_dominance_pct.unwrap().to_string(), "60.708");
        assert_eq!(global.eth_dominance_pct.unwrap().to_string(), "7.155");
        assert_eq!(global.active_cryptocurrencies, Some(17111));
        assert_eq!(global.updated_at.unwrap().timestamp(), 1744025333);
    }

    #[test]
    fn a_body_without_data_is_an_error() {
        assert!(parse_global(r#"{"status":{"error_code":500}}"#).is_err());
    }
}
