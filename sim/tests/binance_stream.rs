//! Binance's combined streams as the simulator serves them over a real WebSocket: the event
//! envelope and fields, trades that agree with what the simulator says it sent, pings, the
//! connection lifetime, request frames, and refusals before the upgrade.

mod common;

use std::time::{Duration, Instant};

use coinbeat_sim::{ControlRequest, Provider, SimConfig, StreamConfig};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::{connect_async, tungstenite::Message};

async fn sim(streams: StreamConfig) -> coinbeat_sim::SimHandle {
    common::start(SimConfig {
        streams,
        ..SimConfig::default()
    })
    .await
}

fn fast() -> StreamConfig {
    StreamConfig {
        trades_per_sec: 20.0,
        ping_secs: 1,
        pong_timeout_secs: 5,
        lifetime_secs: 3_600,
    }
}

/// Frames of one connection read for `how_long`: text frames parsed, pings counted.
async fn read_for(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
    how_long: Duration,
) -> (Vec<Value>, usize) {
    let (mut events, mut pings) = (Vec::new(), 0);
    let deadline = tokio::time::Instant::now() + how_long;
    while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, ws.next()).await {
        match frame.unwrap() {
            Message::Text(text) => events.push(serde_json::from_str(&text).unwrap()),
            Message::Ping(_) => pings += 1,
            _ => {}
        }
    }
    (events, pings)
}

#[tokio::test]
async fn trades_and_tickers_arrive_in_binances_envelope_and_match_what_the_simulator_sent() {
    let sim = sim(fast()).await;
    let url = format!(
        "{}/stream?streams=btcusdt@aggTrade/ethusdt@ticker/ethusdt@miniTicker",
        sim.binance_stream_url()
    );
    let (mut ws, _) = connect_async(&url).await.unwrap();
    let (events, pings) = read_for(&mut ws, Duration::from_millis(2_500)).await;
    assert!(pings >= 1, "a ping every second");
    assert_eq!(sim.stats().by_provider["binance"].streams_open, 1);

    let trades: Vec<&Value> = events
        .iter()
        .filter(|e| e["stream"] == "btcusdt@aggTrade")
        .map(|e| &e["data"])
        .collect();
    assert!(
        trades.len() >= 20,
        "about 20 trades a second: {}",
        trades.len()
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut last_id = 0;
    for t in &trades {
        assert_eq!(t["e"], "aggTrade");
        assert_eq!(t["s"], "BTCUSDT");
        let price = t["p"].as_str().unwrap();
        assert_eq!(price.split_once('.').unwrap().1.len(), 8, "{price}");
        let event_ms = t["E"].as_u64().unwrap();
        assert!(event_ms <= now_ms && now_ms - event_ms < 5_000, "{t}");
        let id = t["a"].as_u64().unwrap();
        assert!(id > last_id, "trade ids increase");
        last_id = id;
        assert!(t["q"].as_str().unwrap().parse::<f64>().unwrap() > 0.0);
    }
    // The last trade received is the one the simulator says it sent.
    let served = &sim.served().binance_stream["BTCUSDT"];
    let last = trades.last().unwrap();
    assert_eq!(served.trade_id, last["a"].as_u64().unwrap());
    assert_eq!(served.usd, last["p"].as_str().unwrap());
    assert_eq!(served.event_time_ms, last["E"].as_u64().unwrap());

    let ticker = events
        .iter()
        .find(|e| e["stream"] == "ethusdt@ticker")
        .expect("a ticker event within a second");
    let day = &ticker["data"];
    assert_eq!(day["e"], "24hrTicker");
    for field in ["p", "P", "c", "o", "h", "l", "v", "q"] {
        assert!(day[field].is_string(), "{field}: {day}");
    }
    let mini = events
        .iter()
        .find(|e| e["stream"] == "ethusdt@miniTicker")
        .expect("a mini ticker event within a second");
    assert_eq!(mini["data"]["e"], "24hrMiniTicker");
    assert!(
        mini["data"].get("P").is_none(),
        "a mini ticker has no change percent"
    );

    // A request frame is answered and changes nothing.
    ws.send(Message::text(
        r#"{"method":"SUBSCRIBE","params":["bnbusdt@aggTrade"],"id":7}"#,
    ))
    .await
    .unwrap();
    let (events, _) = read_for(&mut ws, Duration::from_millis(500)).await;
    assert!(events.iter().any(|e| e["id"] == 7 && e["result"].is_null()));
    drop(ws);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.stats().by_provider["binance"].streams_open != 0 {
        assert!(
            Instant::now() < deadline,
            "the closed connection is still counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.stats().by_provider["binance"].streams_opened, 1);
}

#[tokio::test]
async fn the_server_closes_a_connection_at_the_end_of_its_lifetime() {
    let sim = sim(StreamConfig {
        lifetime_secs: 1,
        ..fast()
    })
    .await;
    let url = format!(
        "{}/stream?streams=btcusdt@aggTrade",
        sim.binance_stream_url()
    );
    let opened = Instant::now();
    let (mut ws, _) = connect_async(&url).await.unwrap();
    let mut closed = false;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if matches!(frame, Ok(Message::Close(_)) | Err(_)) {
            closed = true;
            break;
        }
    }
    assert!(closed, "still open after 5 s");
    let lived = opened.elapsed();
    assert!(
        lived >= Duration::from_millis(900) && lived < Duration::from_secs(3),
        "{lived:?}"
    );
}

#[tokio::test]
async fn unknown_streams_too_many_streams_and_a_down_provider_are_refused_before_the_upgrade() {
    let sim = sim(fast()).await;
    let base = sim.binance_stream_url();
    for query in [
        "streams=btcusdt@depth",
        "streams=notacoin@aggTrade",
        "streams=",
        &format!("streams={}", vec!["btcusdt@aggTrade"; 1025].join("/")),
    ] {
        let status = common::refused_upgrade(&format!("{base}/stream?{query}")).await;
        assert_eq!(status, 400, "{query}");
    }
    sim.control(&ControlRequest {
        provider: Some(Provider::Binance),
        down: Some(true),
        ..ControlRequest::default()
    })
    .unwrap();
    let status = common::refused_upgrade(&format!("{base}/stream?streams=btcusdt@aggTrade")).await;
    assert_eq!(status, 503);
}
