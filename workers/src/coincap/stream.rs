//! CoinCap's prices stream (`{ws_url}/prices?assets=bitcoin,ethereum&apiKey=…`): each message a
//! flat JSON object of the assets whose price changed, prices as strings, with no envelope and
//! no timestamp (`{"bitcoin":"96123.45678901"}`). Assets are named by CoinCap's ids
//! (`providers.coincap.ids`), which differ from CoinGecko's for a few coins.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::websocket::{self, Connection, MalformedFrame, next_text};

/// The stream URL of `assets` (CoinCap ids) under `ws_url` (`wss://wss.coincap.io`).
pub fn stream_url(ws_url: &str, assets: &[String], api_key: Option<&str>) -> Option<String> {
    if assets.is_empty() {
        return None;
    }
    let mut url = format!(
        "{}/prices?assets={}",
        ws_url.trim_end_matches('/'),
        assets.join(",")
    );
    if let Some(key) = api_key {
        url.push_str("&apiKey=");
        url.push_str(key);
    }
    Some(url)
}

/// Opens the prices stream at `url` ([`stream_url`]).
pub async fn connect(url: &str) -> Result<Connection, tokio_tungstenite::tungstenite::Error> {
    websocket::connect(url).await
}

/// The next message of `connection` as (asset id, price) pairs: `None` once it is closed.
pub async fn next_prices(
    connection: &mut Connection,
) -> Option<Result<Vec<(String, Decimal)>, MalformedFrame>> {
    Some(
        next_text(connection)
            .await?
            .and_then(|text| parse_frame(&text)),
    )
}

/// One message as (asset id, price) pairs, the prices exact (never through a float).
pub fn parse_frame(text: &str) -> Result<Vec<(String, Decimal)>, MalformedFrame> {
    let prices: BTreeMap<String, String> =
        serde_json::from_str(text).map_err(|e| MalformedFrame(e.to_string()))?;
    prices
        .into_iter()
        .map(|(id, price)| {
            let usd = Decimal::from_str_exact(&price)
                .map_err(|e| MalformedFrame(format!("{id}: {price:?} is not a decimal: {e}")))?;
            Ok((id, usd))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_coincaps_ids_and_the_key() {
        assert_eq!(
            stream_url(
                "wss://wss.coincap.io/",
                &["bitcoin".into(), "binance-coin".into()],
                Some("k")
            )
            .as_deref(),
            Some("wss://wss.coincap.io/prices?assets=bitcoin,binance-coin&apiKey=k")
        );
        assert_eq!(stream_url("wss://x", &[], None), None);
    }

    #[test]
    fn prices_keep_their_digits_and_bad_frames_are_errors() {
        assert_eq!(
            parse_frame(r#"{"bitcoin":"96123.45678901","ethereum":"3590.1"}"#).unwrap(),
            vec![
                (
                    "bitcoin".into(),
                    Decimal::from_str_exact("96123.45678901").unwrap()
                ),
                (
                    "ethereum".into(),
                    Decimal::from_str_exact("3590.1").unwrap()
                ),
            ]
        );
        for bad in ["nope", r#"{"bitcoin":96123.4}"#, r#"{"bitcoin":"x"}"#, "[]"] {
            assert!(parse_frame(bad).is_err(), "{bad}");
        }
    }
}
