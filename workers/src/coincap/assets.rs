//! `/assets`'s answer: `{"data":[{"id","symbol","priceUsd","marketCapUsd","volumeUsd24Hr",
//! "changePercent24Hr",…}],"timestamp":<unix ms>}`. Every number is a decimal string (or
//! `null`), read exactly where a Decimal holds it; the envelope's `timestamp` is when
//! CoinCap's figures are of.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

/// One asset's USD figures as CoinCap gave them.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    /// CoinCap's asset id (`bitcoin`, `binance-coin`).
    pub id: String,
    pub symbol: String,
    pub usd: Decimal,
    pub market_cap_usd: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
    pub change_24h_pct: Option<Decimal>,
    /// The answer's `timestamp`.
    pub as_of: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Envelope {
    data: Vec<Row>,
    timestamp: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    id: String,
    #[serde(default)]
    symbol: String,
    price_usd: Option<String>,
    market_cap_usd: Option<String>,
    volume_usd24_hr: Option<String>,
    change_percent24_hr: Option<String>,
}

/// Parses an `/assets` body. Assets without a positive `priceUsd` are left out; a figure that is
/// not a decimal is `None`. A body without `data` (an error envelope) is an error.
pub fn parse_assets(body: &str) -> Result<Vec<Asset>, String> {
    let envelope: Envelope = serde_json::from_str(body).map_err(|e| {
        format!(
            "unexpected /assets body ({e}): {}",
            crate::http::excerpt(body)
        )
    })?;
    let as_of = envelope.timestamp.and_then(DateTime::from_timestamp_millis);
    // Exact where it fits; a figure of more digits than a Decimal holds (a supply of 1e13 at
    // CoinCap's 16 places) is rounded in its last places rather than dropped.
    let number = |text: Option<String>| {
        let text = text?;
        let text = text.trim();
        Decimal::from_str_exact(text)
            .or_else(|_| text.parse::<Decimal>())
            .ok()
    };
    Ok(envelope
        .data
        .into_iter()
        .filter_map(|row| {
            let usd = number(row.price_usd).filter(|p| p.is_sign_positive() && !p.is_zero())?;
            Some(Asset {
                id: row.id,
                symbol: row.symbol,
                usd,
                market_cap_usd: number(row.market_cap_usd),
                volume_24h_usd: number(row.volume_usd24_hr),
                change_24h_pct: number(row.change_percent24_hr),
                as_of,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_is_read_exactly_from_its_string() {
        let body = r#"{"data":[{"id":"bitcoin","rank":"1","symbol":"BTC","name":"Bitcoin",
            "supply":"17193925.0000000000000000","maxSupply":"21000000.0000000000000000",
            "marketCapUsd":"119150835874.4699281625807300","volumeUsd24Hr":"2927959461.1750323310959460",
            "priceUsd":"6929.8217756835584756","changePercent24Hr":"-0.8101417214350335",
            "vwap24Hr":"7175.0663247679233209","explorer":"https://blockchain.info/"},
            {"id":"nothing","rank":"9","symbol":"NIL","name":"Nil","priceUsd":null},
            {"id":"shiba-inu","symbol":"SHIB","priceUsd":"0.0000123400000000",
             "marketCapUsd":"7271458327210.1234567890123456"}],
            "timestamp":1618093941684}"#;
        let assets = parse_assets(body).unwrap();
        assert_eq!(assets.len(), 2);
        let btc = &assets[0];
        assert_eq!(btc.id, "bitcoin");
        assert_eq!(btc.usd.to_string(), "6929.8217756835584756");
        assert_eq!(
            btc.market_cap_usd.unwrap().to_string(),
            "119150835874.4699281625807300"
        );
        assert_eq!(
            btc.change_24h_pct.unwrap().to_string(),
            "-0.8101417214350335"
        );
        assert_eq!(btc.as_of.unwrap().timestamp_millis(), 1_618_093_941_684);
        // 29 digits: rounded in the last place, not lost.
        let shib = &assets[1];
        assert_eq!(shib.usd.to_string(), "0.0000123400000000");
        assert!(
            shib.market_cap_usd
                .unwrap()
                .to_string()
                .starts_with("7271458327210.123456789012345"),
            "{shib:?}"
        );
    }

    #[test]
    fn an_error_envelope_is_an_error() {
        assert!(parse_assets(r#"{"error":"Unauthorized"}"#).is_err());
    }
}
