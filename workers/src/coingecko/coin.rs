//! `/coins/{id}`'s answer, of which only the supply figures in `market_data` are read (numbers,
//! `max_supply` may be `null`). An unknown id answers 404 `{"error":"coin not found"}`.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::simple_price::decimal;

/// One coin's identity and supply figures.
#[derive(Debug, Clone, PartialEq)]
pub struct CoinDetails {
    pub id: String,
    pub symbol: String,
    pub name: String,
    pub circulating_supply: Option<Decimal>,
    pub total_supply: Option<Decimal>,
    pub max_supply: Option<Decimal>,
}

#[derive(Deserialize)]
struct Body<'a> {
    id: String,
    symbol: String,
    name: String,
    #[serde(borrow, default)]
    market_data: Option<MarketData<'a>>,
}

#[derive(Deserialize)]
struct MarketData<'a> {
    #[serde(borrow, default)]
    circulating_supply: Option<&'a RawValue>,
    #[serde(borrow, default)]
    total_supply: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_supply: Option<&'a RawValue>,
}

/// Parses a `/coins/{id}` body.
pub fn parse_coin(body: &str) -> Result<CoinDetails, String> {
    let coin: Body =
        serde_json::from_str(body).map_err(|e| format!("unexpected /coins/{{id}} body: {e}"))?;
    let number = |field: &str, raw: Option<&RawValue>| {
        raw.map(|raw| decimal(raw.get()))
            .transpose()
            .map(Option::flatten)
            .map_err(|e| format!("{}.market_data.{field}: {e}", coin.id))
    };
    let (circulating, total, max) = match &coin.market_data {
        Some(m) => (
            number("circulating_supply", m.circulating_supply)?,
            number("total_supply", m.total_supply)?,
            number("max_supply", m.max_supply)?,
        ),
        None => (None, None, None),
    };
    Ok(CoinDetails {
        circulating_supply: circulating,
        total_supply: total,
        max_supply: max,
        id: coin.id,
        symbol: coin.symbol,
        name: coin.name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supply_figures_are_read_and_a_null_max_supply_is_absent() {
        let body = r#"{"id":"ethereum","symbol":"eth","name":"Ethereum","market_cap_rank":2,
            "market_data":{"current_price":{"usd":3500},"total_supply":120278935.0123,
            "max_supply":null,"circulating_supply":1.2027893501e+8}}"#;
        let coin = parse_coin(body).unwrap();
        assert_eq!(coin.id, "ethereum");
        assert_eq!(coin.total_supply.unwrap().to_string(), "120278935.0123");
        assert_eq!(coin.circulating_supply.unwrap().to_string(), "120278935.01");
        assert_eq!(coin.max_supply, None);
    }
}
