//! `/simple/price`'s answer: an object keyed by coin id; inside, `usd`, `usd_market_cap`,
//! `usd_24h_vol`, `usd_24h_change` and `last_updated_at`. Values are JSON numbers (or `null`);
//! they are read from their text so no digit is lost to a float.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::value::RawValue;

/// One coin's USD figures as CoinGecko gave them.
#[derive(Debug, Clone, PartialEq)]
pub struct SimplePrice {
    pub usd: Decimal,
    pub usd_market_cap: Option<Decimal>,
    pub usd_24h_vol: Option<Decimal>,
    pub usd_24h_change: Option<Decimal>,
    pub last_updated_at: Option<DateTime<Utc>>,
}

/// Parses a `/simple/price` body. Coins without a `usd` number are left out (CoinGecko has no
/// price for them); a body that is not an object of objects is an error.
pub fn parse_simple_prices(body: &str) -> Result<HashMap<String, SimplePrice>, String> {
    let coins: HashMap<String, HashMap<String, Box<RawValue>>> =
        serde_json::from_str(body).map_err(|e| format!("unexpected /simple/price body: {e}"))?;
    let mut out = HashMap::with_capacity(coins.len());
    for (id, fields) in coins {
        // CoinGecko's error envelope (`{"status":{"error_code":..,"error_message":..}}`) is an
        // object of objects too: at 200 it is not "no prices for an id called status".
        if ["error_code", "error_message", "error"]
            .iter()
            .any(|k| fields.contains_key(*k))
        {
            return Err(format!(
                "an error envelope, not prices: {}",
                crate::http::excerpt(body)
            ));
        }
        let number = |key: &str| -> Result<Option<Decimal>, String> {
            fields
                .get(key)
                .map(|raw| decimal(raw.get()).map_err(|e| format!("{id}.{key}: {e}")))
                .transpose()
                .map(Option::flatten)
        };
        let Some(usd) = number("usd")? else {
            continue;
        };
        let last_updated_at = fields
            .get("last_updated_at")
            .and_then(|raw| raw.get().parse::<i64>().ok())
            .and_then(|secs| DateTime::from_timestamp(secs, 0));
        out.insert(
            id.clone(),
            SimplePrice {
                usd,
                usd_market_cap: number("usd_market_cap")?,
                usd_24h_vol: number("usd_24h_vol")?,
                usd_24h_change: number("usd_24h_change")?,
                last_updated_at,
            },
        );
    }
    Ok(out)
}

/// A JSON number's text as an exact decimal; `null` is `None`. Exponent notation (CoinGecko
/// writes large market caps as `2.70016521312815e+15`) is accepted.
pub(super) fn decimal(text: &str) -> Result<Option<Decimal>, String> {
    if text == "null" {
        return Ok(None);
    }
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        // Exact: more digits than a Decimal holds is an error, never a silent rounding.
        Decimal::from_str_exact(text)
    };
    parsed
        .map(Some)
        .map_err(|e| format!("{text:?} is not a decimal number: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_every_digit_the_upstream_sent() {
        let body = r#"{"bitcoin":{"usd":67187.3358936566,"usd_market_cap":1317802988326.25,
            "usd_24h_vol":31260929299.5248,"usd_24h_change":3.63727894677354,
            "last_updated_at":1711356300},
            "pepe":{"usd":0.00000982,"usd_24h_change":null},
            "big":{"usd":1.5,"usd_market_cap":2.70016521312815e+15}}"#;
        let prices = parse_simple_prices(body).unwrap();
        let btc = &prices["bitcoin"];
        assert_eq!(btc.usd.to_string(), "67187.3358936566");
        assert_eq!(btc.usd_market_cap.unwrap().to_string(), "1317802988326.25");
        assert_eq!(btc.usd_24h_change.unwrap().to_string(), "3.63727894677354");
        assert_eq!(btc.last_updated_at.unwrap().timestamp(), 1711356300);
        let pepe = &prices["pepe"];
        assert_eq!(pepe.usd.to_string(), "0.00000982");
        assert_eq!(pepe.usd_24h_change, None);
        assert_eq!(pepe.usd_market_cap, None);
        assert_eq!(
            prices["big"].usd_market_cap.unwrap().to_string(),
            "2700165213128150"
        );
    }

    #[test]
    fn an_empty_object_is_no_prices_and_garbage_is_an_error() {
        assert!(parse_simple_prices("{}").unwrap().is_empty());
        assert!(parse_simple_prices("<html>Access denied</html>").is_err());
        assert!(parse_simple_prices(r#"{"bitcoin":{"usd":"abc"}}"#).is_err());
    }
}
