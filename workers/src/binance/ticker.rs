//! `/api/v3/ticker/24hr`'s rows: last price, 24 h change and quote volume, every number a JSON
//! string, read as exact decimals.

use std::str::FromStr;

use coinbeat_shared::domain::Symbol;
use rust_decimal::Decimal;
use serde::Deserialize;

/// The USDT pair Binance lists `symbol` under (`BTC` → `BTCUSDT`); `None` for USDT itself.
pub fn pair_for(symbol: &Symbol) -> Option<String> {
    (symbol.as_str() != "USDT").then(|| format!("{symbol}USDT"))
}

/// One row of `/api/v3/ticker/24hr`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticker24h {
    pub pair: String,
    pub last_price: Decimal,
    pub price_change_percent: Option<Decimal>,
    /// Traded volume in the quote asset (USDT) over 24 hours.
    pub quote_volume: Option<Decimal>,
    /// When the 24 h window closed (unix ms).
    pub close_time_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    symbol: String,
    last_price: String,
    #[serde(default)]
    price_change_percent: Option<String>,
    #[serde(default)]
    quote_volume: Option<String>,
    #[serde(default)]
    close_time: Option<i64>,
}

/// Parses a `/ticker/24hr` body: an array of rows (with `symbols=`) or a single row (`symbol=`).
pub fn parse_tickers(body: &str) -> Result<Vec<Ticker24h>, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Row>),
        One(Row),
    }
    let rows = match serde_json::from_str::<OneOrMany>(body)
        .map_err(|e| format!("unexpected /ticker/24hr body: {e}"))?
    {
        OneOrMany::Many(rows) => rows,
        OneOrMany::One(row) => vec![row],
    };
    rows.into_iter()
        .map(|row| {
            let exact = |text: &str| {
                Decimal::from_str_exact(text)
                    .or_else(|_| Decimal::from_str(text))
                    .map_err(|e| format!("{}: {text:?} is not a decimal: {e}", row.symbol))
            };
            Ok(Ticker24h {
                last_price: exact(&row.last_price)?,
                price_change_percent: row.price_change_percent.as_deref().map(exact).transpose()?,
                quote_volume: row.quote_volume.as_deref().map(exact).transpose()?,
                close_time_ms: row.close_time,
                pair: row.symbol,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_become_exact_decimals_with_binances_digits() {
        let body = r#"[{"symbol":"BTCUSDT","priceChange":"-94.99999800","priceChangePercent":"-0.095",
            "lastPrice":"95176.59000000","volume":"12.5","quoteVolume":"1189707.37500000",
            "openTime":1700000000000,"closeTime":1700086400000,"count":76}]"#;
        let rows = parse_tickers(body).unwrap();
        assert_eq!(rows[0].pair, "BTCUSDT");
        assert_eq!(rows[0].last_price.to_string(), "95176.59000000");
        assert_eq!(rows[0].price_change_percent.unwrap().to_string(), "-0.095");
        assert_eq!(rows[0].close_time_ms, Some(1700086400000));
        let one = parse_tickers(r#"{"symbol":"PEPEUSDT","lastPrice":"0.00000982"}"#).unwrap();
        assert_eq!(one[0].last_price.to_string(), "0.00000982");
        assert!(parse_tickers(r#"[{"symbol":"X","lastPrice":"abc"}]"#).is_err());
        assert!(parse_tickers("<html>").is_err());
    }

    #[test]
    fn usdt_has_no_usdt_pair() {
        assert_eq!(
            pair_for(&Symbol::parse("btc").unwrap()).as_deref(),
            Some("BTCUSDT")
        );
        assert_eq!(pair_for(&Symbol::parse("USDT").unwrap()), None);
    }
}
