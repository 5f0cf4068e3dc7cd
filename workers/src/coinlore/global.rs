//! `/global/`'s answer: a one-element array of market totals with CoinLore's mixed types
//! (counts and totals numbers, dominance percentages strings), read as exact decimals.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::tickers::loose_decimal;

/// The market's totals as CoinLore gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    pub coins_count: Option<u64>,
    pub total_mcap: Option<Decimal>,
    pub total_volume: Option<Decimal>,
    pub btc_d: Option<Decimal>,
    pub eth_d: Option<Decimal>,
}

#[derive(Deserialize)]
struct Row<'a> {
    #[serde(default)]
    coins_count: Option<u64>,
    #[serde(borrow, default)]
    total_mcap: Option<&'a RawValue>,
    #[serde(borrow, default)]
    total_volume: Option<&'a RawValue>,
    #[serde(borrow, default)]
    btc_d: Option<&'a RawValue>,
    #[serde(borrow, default)]
    eth_d: Option<&'a RawValue>,
}

/// Parses a `/global/` body.
pub fn parse_global(body: &str) -> Result<Global, String> {
    let rows: Vec<Row> =
        serde_json::from_str(body).map_err(|e| format!("unexpected /global/ body: {e}"))?;
    let row = rows.into_iter().next().ok_or("an empty /global/ answer")?;
    let number = |field: &str, raw: Option<&RawValue>| {
        raw.map(|raw| loose_decimal(raw.get()))
            .transpose()
            .map(Option::flatten)
            .map_err(|e| format!("global.{field}: {e}"))
    };
    Ok(Global {
        coins_count: row.coins_count,
        total_mcap: number("total_mcap", row.total_mcap)?,
        total_volume: number("total_volume", row.total_volume)?,
        btc_d: number("btc_d", row.btc_d)?,
        eth_d: number("eth_d", row.eth_d)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_numbers_and_dominance_strings() {
        let body = r#"[{"coins_count":14012,"active_markets":24652,"total_mcap":3456789012345.67,
            "total_volume":98765432109.1,"btc_d":"57.21","eth_d":"11.90","mcap_change":"-0.41",
            "volume_change":"0.00","avg_change_percent":"1.02","volume_ath":3.1e11,
            "mcap_ath":4.2e12}]"#;
        let g = parse_global(body).unwrap();
        assert_eq!(g.coins_count, Some(14_012));
        assert_eq!(g.total_mcap, Some("3456789012345.67".parse().unwrap()));
        assert_eq!(g.btc_d, Some("57.21".parse().unwrap()));
        assert_eq!(g.eth_d, Some("11.90".parse().unwrap()));
        assert!(parse_global("[]").unwrap_err().contains("empty"));
        assert!(parse_global("{}").is_err());
    }
}
