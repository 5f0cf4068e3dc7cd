//! Binance's combined market streams (`{ws_url}/stream?streams=a/b/…`): which streams a set of
//! symbols needs, the connection, and each frame read as an exact-decimal event.
//!
//! Two streams per symbol:
//! - `<pair>@aggTrade`: every trade as the exchange matches it (real-time, no batching), so the
//!   price is as fresh as the exchange allows, stamped with the exchange's event time `E`;
//! - `<pair>@ticker`: the rolling 24 h figures once a second (change percent and quote volume,
//!   which a price record carries). `@miniTicker` has no change percent, and the all-market
//!   `!ticker@arr` was retired on 2026-03-26.
//!
//! Binance allows 1024 streams per connection; [`MAX_SYMBOLS_PER_CONNECTION`] keeps a connection
//! far below it. The connection sends nothing but pongs (Binance counts pings, pongs and
//! requests against 5 incoming messages a second): the streams are named in the URL, not
//! subscribed to.

use std::str::FromStr;

use coinbeat_shared::domain::Symbol;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::pair_for;
use crate::websocket::{self, next_text};
pub use crate::websocket::{Connection, MalformedFrame};

/// Symbols one connection streams at most: 200 streams, a fifth of Binance's cap.
pub const MAX_SYMBOLS_PER_CONNECTION: usize = 100;

/// What one frame said.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A trade: the pair's price now.
    Trade(Trade),
    /// The pair's rolling 24 h figures.
    Day(DayFigures),
    /// Binance announces a maintenance disconnect (`serverShutdown`).
    Shutdown,
    /// Anything else well-formed (a reply to a request): nothing to record.
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    /// `BTCUSDT`.
    pub pair: String,
    pub price: Decimal,
    /// The exchange's event time, unix milliseconds.
    pub event_time_ms: i64,
    pub trade_id: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DayFigures {
    pub pair: String,
    pub last_price: Decimal,
    pub change_24h_pct: Option<Decimal>,
    /// Traded in USDT over 24 hours.
    pub quote_volume: Option<Decimal>,
    pub event_time_ms: i64,
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("no symbol to stream")]
    Empty,
    #[error("connecting to the Binance stream: {0}")]
    Connect(#[from] tokio_tungstenite::tungstenite::Error),
}

/// The stream names for `symbols` (those Binance lists as a USDT pair), in order.
pub fn stream_names(symbols: &[Symbol]) -> Vec<String> {
    symbols
        .iter()
        .filter_map(pair_for)
        .flat_map(|pair| {
            let pair = pair.to_ascii_lowercase();
            [format!("{pair}@aggTrade"), format!("{pair}@ticker")]
        })
        .collect()
}

/// The combined-stream URL for `symbols` under `ws_url` (`wss://stream.binance.com:9443`).
pub fn stream_url(ws_url: &str, symbols: &[Symbol]) -> Option<String> {
    let names = stream_names(symbols);
    (!names.is_empty()).then(|| {
        format!(
            "{}/stream?streams={}",
            ws_url.trim_end_matches('/'),
            names.join("/")
        )
    })
}

/// Opens the combined stream of `symbols`.
pub async fn connect(ws_url: &str, symbols: &[Symbol]) -> Result<Connection, StreamError> {
    let url = stream_url(ws_url, symbols).ok_or(StreamError::Empty)?;
    Ok(websocket::connect(&url).await?)
}

/// The next event of `connection`: `None` once it is closed (by the server, at the end of its
/// lifetime, or by an error); pings are answered as they are read.
pub async fn next_event(
    connection: &mut Connection,
) -> Option<Result<StreamEvent, MalformedFrame>> {
    Some(
        next_text(connection)
            .await?
            .and_then(|text| parse_frame(&text)),
    )
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
    /// A bare event (`serverShutdown`) or a reply carries no envelope.
    #[serde(default)]
    e: Option<String>,
}

#[derive(Deserialize)]
struct AggTrade {
    s: String,
    p: String,
    #[serde(rename = "E")]
    event_time: i64,
    a: u64,
}

#[derive(Deserialize)]
struct Ticker {
    s: String,
    c: String,
    #[serde(rename = "P")]
    change_pct: Option<String>,
    q: Option<String>,
    #[serde(rename = "E")]
    event_time: i64,
}

/// One text frame as an event.
pub fn parse_frame(text: &str) -> Result<StreamEvent, MalformedFrame> {
    let bad = |why: String| MalformedFrame(why);
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if envelope.e.as_deref() == Some("serverShutdown") {
        return Ok(StreamEvent::Shutdown);
    }
    let (Some(stream), Some(data)) = (envelope.stream, envelope.data) else {
        return Ok(StreamEvent::Other);
    };
    let kind = stream.rsplit_once('@').map(|(_, kind)| kind).unwrap_or("");
    match kind {
        "aggTrade" => {
            let t: AggTrade = serde_json::from_value(data).map_err(|e| bad(e.to_string()))?;
            Ok(StreamEvent::Trade(Trade {
                price: exact(&t.p).map_err(bad)?,
                pair: t.s,
                event_time_ms: t.event_time,
                trade_id: t.a,
            }))
        }
        "ticker" => {
            let t: Ticker = serde_json::from_value(data).map_err(|e| bad(e.to_string()))?;
            Ok(StreamEvent::Day(DayFigures {
                last_price: exact(&t.c).map_err(bad)?,
                change_24h_pct: t
                    .change_pct
                    .as_deref()
                    .map(exact)
                    .transpose()
                    .map_err(bad)?,
                quote_volume: t.q.as_deref().map(exact).transpose().map_err(bad)?,
                pair: t.s,
                event_time_ms: t.event_time,
            }))
        }
        other => Err(bad(format!(
            "a stream this client did not ask for: {other:?}"
        ))),
    }
}

/// A wire string as an exact decimal (never through a float).
fn exact(text: &str) -> Result<Decimal, String> {
    Decimal::from_str_exact(text)
        .or_else(|_| Decimal::from_str(text))
        .map_err(|e| format!("{text:?} is not a decimal: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols(list: &[&str]) -> Vec<Symbol> {
        list.iter().map(|s| Symbol::parse(s).unwrap()).collect()
    }

    #[test]
    fn each_symbol_gets_its_trades_and_its_24h_ticker_and_usdt_none() {
        assert_eq!(
            stream_url(
                "wss://stream.binance.com:9443/",
                &symbols(&["BTC", "USDT", "ETH"])
            ),
            Some(
                "wss://stream.binance.com:9443/stream?streams=\
                 btcusdt@aggTrade/btcusdt@ticker/ethusdt@aggTrade/ethusdt@ticker"
                    .to_owned()
            )
        );
        assert_eq!(stream_url("wss://x", &symbols(&["USDT"])), None);
    }

    #[test]
    fn a_trade_keeps_the_wires_exact_digits_and_the_exchanges_time() {
        let frame = r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1700000000123,
            "s":"BTCUSDT","a":26129,"p":"95176.59164355","q":"0.00105061","f":100,"l":105,
            "T":1700000000120,"m":true,"M":true}}"#;
        assert_eq!(
            parse_frame(frame).unwrap(),
            StreamEvent::Trade(Trade {
                pair: "BTCUSDT".into(),
                price: Decimal::from_str_exact("95176.59164355").unwrap(),
                event_time_ms: 1_700_000_000_123,
                trade_id: 26129,
            })
        );
    }

    #[test]
    fn a_ticker_gives_the_24h_change_and_quote_volume() {
        let frame = r#"{"stream":"ethusdt@ticker","data":{"e":"24hrTicker","E":1700000000999,
            "s":"ETHUSDT","p":"-12.5","P":"-0.347","c":"3590.10000000","q":"1189707.375"}}"#;
        let StreamEvent::Day(day) = parse_frame(frame).unwrap() else {
            panic!("a day event");
        };
        assert_eq!(day.pair, "ETHUSDT");
        assert_eq!(
            day.change_24h_pct,
            Some(Decimal::from_str_exact("-0.347").unwrap())
        );
        assert_eq!(
            day.quote_volume,
            Some(Decimal::from_str_exact("1189707.375").unwrap())
        );
        assert_eq!(day.event_time_ms, 1_700_000_000_999);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics_and_replies_are_nothing() {
        for frame in [
            "not json",
            r#"{"stream":"btcusdt@aggTrade","data":{"s":"BTCUSDT"}}"#,
            r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"NaN?"}}"#,
            r#"{"stream":"btcusdt@depth","data":{}}"#,
        ] {
            assert!(parse_frame(frame).is_err(), "{frame}");
        }
        assert_eq!(
            parse_frame(r#"{"result":null,"id":1}"#).unwrap(),
            StreamEvent::Other
        );
        assert_eq!(
            parse_frame(r#"{"e":"serverShutdown","E":1770123456789}"#).unwrap(),
            StreamEvent::Shutdown
        );
    }
}
