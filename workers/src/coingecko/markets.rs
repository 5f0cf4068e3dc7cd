//! `/coins/markets`' answer: an array of rows, largest market cap first. Numbers are JSON
//! numbers (or `null`, e.g. `max_supply` of uncapped coins); they are read from their text so
//! no digit is lost to a float.

use chrono::{DateTime, Utc};
use coinbeat_shared::cache::MarketRow;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::simple_price::decimal;

/// Most rows one `/coins/markets` page holds.
pub const MAX_PER_PAGE: u32 = 250;

#[derive(Deserialize)]
struct Row<'a> {
    id: String,
    symbol: String,
    name: String,
    #[serde(default)]
    market_cap_rank: Option<u32>,
    #[serde(borrow, default)]
    current_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    market_cap: Option<&'a RawValue>,
    #[serde(borrow, default)]
    total_volume: Option<&'a RawValue>,
    #[serde(borrow, default)]
    price_change_percentage_24h: Option<&'a RawValue>,
    #[serde(borrow, default)]
    circulating_supply: Option<&'a RawValue>,
    #[serde(borrow, default)]
    total_supply: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_supply: Option<&'a RawValue>,
    #[serde(default)]
    last_updated: Option<String>,
}

/// Parses a `/coins/markets` body into rows, in the upstream's order.
pub fn parse_markets(body: &str) -> Result<Vec<MarketRow>, String> {
    let rows: Vec<Row> =
        serde_json::from_str(body).map_err(|e| format!("unexpected /coins/markets body: {e}"))?;
    rows.into_iter()
        .map(|row| {
            let number = |field: &str, raw: Option<&RawValue>| {
                raw.map(|raw| decimal(raw.get()))
                    .transpose()
                    .map(Option::flatten)
                    .map_err(|e| format!("{}.{field}: {e}", row.id))
            };
            Ok(MarketRow {
                price_usd: number("current_price", row.current_price)?,
                market_cap_usd: number("market_cap", row.market_cap)?,
                volume_24h_usd: number("total_volume", row.total_volume)?,
                change_24h_pct: number(
                    "price_change_percentage_24h",
                    row.price_change_percentage_24h,
                )?,
                circulating_supply: number("circulating_supply", row.circulating_supply)?,
                total_supply: number("total_supply", row.total_supply)?,
                max_supply: number("max_supply", row.max_supply)?,
                upstream_updated_at: row
                    .last_updated
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                rank: row.market_cap_rank,
                coin_id: row.id,
                symbol: row.symbol,
                name: row.name,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_exact_digits_and_a_null_max_supply_is_absent() {
        let body = r#"[{"id":"bitcoin","symbol":"btc","name":"Bitcoin","current_price":70187.123456789,
            "market_cap":1381651251183,"market_cap_rank":1,"total_volume":2.0154184933e+10,
            "price_change_percentage_24h":-3.12502,"circulating_supply":19675987.0,
            "total_supply":21000000,"max_supply":21000000,"roi":null,
            "last_updated":"2024-04-07T16:49:31.736Z"},
            {"id":"ethereum","symbol":"eth","name":"Ethereum","current_price":3500.5,
            "market_cap":null,"market_cap_rank":null,"total_volume":1,
            "price_change_percentage_24h":null,"circulating_supply":120000000,
            "total_supply":120000000,"max_supply":null,"last_updated":null}]"#;
        let rows = parse_markets(body).unwrap();
        let btc = &rows[0];
        assert_eq!(btc.coin_id, "bitcoin");
        assert_eq!(btc.price_usd.unwrap().to_string(), "70187.123456789");
        assert_eq!(btc.volume_24h_usd.unwrap().to_string(), "20154184933");
        assert_eq!(btc.change_24h_pct.unwrap().to_string(), "-3.12502");
        assert_eq!(btc.max_supply.unwrap().to_string(), "21000000");
        assert_eq!(btc.rank, Some(1));
        assert_eq!(
            btc.upstream_updated_at.unwrap().timestamp_millis(),
            1712508571736
        );
        let eth = &rows[1];
        assert_eq!(eth.max_supply, None);
        assert_eq!(eth.market_cap_usd, None);
        assert_eq!(eth.rank, None);
        assert_eq!(eth.upstream_updated_at, None);
    }

    #[test]
    fn a_body_that_is_not_an_array_of_rows_is_an_error() {
        assert!(parse_markets("[]").unwrap().is_empty());
        assert!(parse_markets(r#"{"error":"x"}"#).is_err());
        assert!(
            parse_markets(r#"[{"id":"a","symbol":"a","name":"A","current_price":"x"}]"#).is_err()
        );
    }
}
