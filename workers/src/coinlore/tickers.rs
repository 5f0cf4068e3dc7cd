//! `/tickers/`'s answer: `{"data":[...],"info":{"coins_num":..,"time":..}}` with CoinLore's
//! mixed types: `rank` a number; prices, percents and supplies strings (`msupply` is `""` for
//! uncapped coins); `volume24` a number. Every figure is read from its text into an exact
//! decimal, whether it came as a string or a number.

use chrono::{DateTime, Utc};
use coinbeat_shared::cache::MarketRow;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Most rows one `/tickers/` page holds.
pub const MAX_PER_PAGE: u32 = 100;

/// One page of tickers, as market rows, and when CoinLore computed them.
#[derive(Debug, Clone, PartialEq)]
pub struct Tickers {
    pub rows: Vec<MarketRow>,
    /// CoinLore's own id of each row (same order; `""` when it sent none): what
    /// `/ticker/?id=` asks by.
    pub ids: Vec<String>,
    pub time: Option<DateTime<Utc>>,
    /// When the request went out (after its permit): what a record from this page is dated.
    pub sent_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    data: Vec<Row<'a>>,
    #[serde(default)]
    info: Option<Info>,
}

#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    time: Option<i64>,
}

#[derive(Deserialize)]
struct Row<'a> {
    /// A string on CoinLore (`"90"`); a number is taken too.
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    symbol: String,
    name: String,
    nameid: String,
    #[serde(default)]
    rank: Option<u32>,
    #[serde(borrow, default)]
    price_usd: Option<&'a RawValue>,
    #[serde(borrow, default)]
    percent_change_24h: Option<&'a RawValue>,
    #[serde(borrow, default)]
    market_cap_usd: Option<&'a RawValue>,
    #[serde(borrow, default)]
    volume24: Option<&'a RawValue>,
    #[serde(borrow, default)]
    csupply: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tsupply: Option<&'a RawValue>,
    #[serde(borrow, default)]
    msupply: Option<&'a RawValue>,
}

/// Parses a `/tickers/` body, asked for at `sent_at`.
pub fn parse_tickers(body: &str, sent_at: DateTime<Utc>) -> Result<Tickers, String> {
    let body: Body =
        serde_json::from_str(body).map_err(|e| format!("unexpected /tickers/ body: {e}"))?;
    let time = body
        .info
        .and_then(|i| i.time)
        .and_then(|secs| DateTime::from_timestamp(secs, 0));
    rows_of(body.data, time, sent_at)
}

/// Parses a `/ticker/?id=..` body: a bare array of the same rows (an unknown id is left out).
pub fn parse_ticker(body: &str, sent_at: DateTime<Utc>) -> Result<Tickers, String> {
    let rows: Vec<Row> =
        serde_json::from_str(body).map_err(|e| format!("unexpected /ticker/ body: {e}"))?;
    rows_of(rows, None, sent_at)
}

fn rows_of(
    data: Vec<Row<'_>>,
    time: Option<DateTime<Utc>>,
    sent_at: DateTime<Utc>,
) -> Result<Tickers, String> {
    let mut ids = Vec::with_capacity(data.len());
    let rows = data
        .into_iter()
        .map(|row| {
            ids.push(
                row.id
                    .map_or_else(String::new, |raw| raw.get().trim_matches('"').to_owned()),
            );
            let number = |field: &str, raw: Option<&RawValue>| {
                raw.map(|raw| loose_decimal(raw.get()))
                    .transpose()
                    .map(Option::flatten)
                    .map_err(|e| format!("{}.{field}: {e}", row.nameid))
            };
            Ok(MarketRow {
                rank: row.rank,
                price_usd: number("price_usd", row.price_usd)?,
                market_cap_usd: number("market_cap_usd", row.market_cap_usd)?,
                volume_24h_usd: number("volume24", row.volume24)?,
                change_24h_pct: number("percent_change_24h", row.percent_change_24h)?,
                circulating_supply: number("csupply", row.csupply)?,
                total_supply: number("tsupply", row.tsupply)?,
                max_supply: number("msupply", row.msupply)?,
                upstream_updated_at: time,
                coin_id: row.nameid,
                symbol: row.symbol,
                name: row.name,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Tickers {
        rows,
        ids,
        time,
        sent_at,
    })
}

/// A JSON number's text or a string's content as an exact decimal; `null` and `""` are `None`.
pub(super) fn loose_decimal(text: &str) -> Result<Option<Decimal>, String> {
    let inner = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner.trim(),
        None => text,
    };
    if inner.is_empty() || inner == "null" {
        return Ok(None);
    }
    let parsed = if inner.contains(['e', 'E']) {
        Decimal::from_scientific(inner)
    } else {
        Decimal::from_str_exact(inner)
    };
    parsed
        .map(Some)
        .map_err(|e| format!("{inner:?} is not a decimal number: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_types_become_exact_decimals_and_an_empty_max_supply_is_absent() {
        let body = r#"{"data":[{"id":"90","symbol":"BTC","name":"Bitcoin","nameid":"bitcoin",
            "rank":1,"price_usd":"91492.61","percent_change_24h":"-0.95","percent_change_1h":"-0.29",
            "price_btc":"1.00","market_cap_usd":"1825236061954.00","volume24":39551743260.857254,
            "volume24a":44763507730.31366,"csupply":"19949546.00","tsupply":"19949546",
            "msupply":"21000000"},
            {"id":"80","symbol":"ETH","name":"Ethereum","nameid":"ethereum","rank":2,
            "price_usd":"3000.1","percent_change_24h":"1.5","market_cap_usd":"1",
            "volume24":12,"csupply":"120000000","tsupply":"120000000","msupply":""}],
            "info":{"coins_num":14993,"time":1788363842}}"#;
        let tickers = parse_tickers(body, Utc::now()).unwrap();
        let btc = &tickers.rows[0];
        assert_eq!(btc.coin_id, "bitcoin");
        assert_eq!(btc.rank, Some(1));
        assert_eq!(btc.price_usd.unwrap().to_string(), "91492.61");
        assert_eq!(btc.market_cap_usd.unwrap().to_string(), "1825236061954.00");
        assert_eq!(
            btc.volume_24h_usd.unwrap().to_string(),
            "39551743260.857254"
        );
        assert_eq!(btc.change_24h_pct.unwrap().to_string(), "-0.95");
        assert_eq!(btc.max_supply.unwrap().to_string(), "21000000");
        assert_eq!(btc.upstream_updated_at.unwrap().timestamp(), 1788363842);
        assert_eq!(tickers.rows[1].max_supply, None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_tickers("<html></html>", Utc::now()).is_err());
        assert!(
            parse_tickers(
                r#"{"data":[{"symbol":"A","name":"A","nameid":"a","price_usd":"x"}]}"#,
                Utc::now()
            )
            .is_err()
        );
    }
}
