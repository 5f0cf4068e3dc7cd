//! The Binance stream client against the simulator's combined streams over a real WebSocket:
//! trades and 24 h figures read with the exact digits the simulator sent and its event times,
//! and the end of a connection's lifetime seen as the end of the stream.

use std::time::{Duration, Instant};

use coinbeat_shared::domain::Symbol;
use coinbeat_sim::{SimConfig, StreamConfig};
use coinbeat_workers::binance::stream::{StreamEvent, connect, next_event};
use rust_decimal::Decimal;

async fn sim(streams: StreamConfig) -> coinbeat_sim::SimHandle {
    coinbeat_sim::start(SimConfig {
        streams,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn trades_and_day_figures_arrive_with_the_simulators_exact_digits() {
    let sim = sim(StreamConfig {
        trades_per_sec: 20.0,
        ping_secs: 1,
        ..StreamConfig::default()
    })
    .await;
    let symbols = ["BTC", "ETH"].map(|s| Symbol::parse(s).unwrap());
    let mut conn = connect(&sim.binance_stream_url(), &symbols).await.unwrap();
    let (mut trades, mut days) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_millis(2_500);
    while Instant::now() < deadline {
        let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_secs(1), next_event(&mut conn)).await
        else {
            break;
        };
        match event.expect("the simulator sends no malformed frame unless told") {
            StreamEvent::Trade(t) => trades.push(t),
            StreamEvent::Day(d) => days.push(d),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(trades.len() >= 40, "20 a second per pair: {}", trades.len());
    assert!(days.iter().any(|d| d.pair == "BTCUSDT") && days.iter().any(|d| d.pair == "ETHUSDT"));
    assert!(
        days.iter()
            .all(|d| d.change_24h_pct.is_some() && d.quote_volume.is_some())
    );
    // What the simulator says it sent by now; the connection delivers those trades, to the digit.
    let served = sim.served().binance_stream;
    let wanted = |pair: &str| served[pair].trade_id;
    while !["BTCUSDT", "ETHUSDT"].iter().all(|pair| {
        trades
            .iter()
            .any(|t| t.pair == *pair && t.trade_id >= wanted(pair))
    }) {
        match tokio::time::timeout(Duration::from_secs(2), next_event(&mut conn)).await {
            Ok(Some(Ok(StreamEvent::Trade(t)))) => trades.push(t),
            Ok(Some(Ok(_))) => {}
            other => panic!("the stream ended before the served trades arrived: {other:?}"),
        }
    }
    for pair in ["BTCUSDT", "ETHUSDT"] {
        let sent = &served[pair];
        let got = trades
            .iter()
            .find(|t| t.pair == pair && t.trade_id == sent.trade_id)
            .unwrap_or_else(|| panic!("{pair}: trade {} never read", sent.trade_id));
        assert_eq!(got.price, Decimal::from_str_exact(&sent.usd).unwrap());
        assert_eq!(
            got.price.to_string(),
            sent.usd,
            "{pair}: no digit lost or added"
        );
        assert_eq!(got.event_time_ms, sent.event_time_ms as i64);
    }
}

#[tokio::test]
async fn a_connection_closed_at_the_end_of_its_lifetime_ends_the_stream() {
    let sim = sim(StreamConfig {
        lifetime_secs: 1,
        ..StreamConfig::default()
    })
    .await;
    let symbols = [Symbol::parse("BTC").unwrap()];
    let mut conn = connect(&sim.binance_stream_url(), &symbols).await.unwrap();
    let opened = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while next_event(&mut conn).await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "still streaming 5 s after a 1 s lifetime");
    assert!(opened.elapsed() >= Duration::from_millis(900));
}
