//! CoinCap's prices stream as the simulator serves it over a real WebSocket: flat objects of the
//! assets that changed, prices as strings that agree with what the simulator says it sent,
//! refusals before the upgrade, and the stream faults (silence, malformed frames, drops).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use coinbeat_sim::{
    ControlRequest, Faults, Provider, ProviderFaults, ProviderStats, SimConfig, SimHandle,
    StreamConfig,
};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{connect_async, tungstenite::Message};

#[tokio::test]
async fn each_message_names_the_assets_that_changed_with_their_price_as_a_string() {
    let sim = common::start(SimConfig {
        step_ms: 200,
        streams: StreamConfig {
            trades_per_sec: 20.0,
            ..StreamConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let url = format!(
        "{}/prices?assets=bitcoin,ethereum",
        sim.coincap_stream_url()
    );
    let (mut ws, _) = connect_async(&url).await.unwrap();
    let mut messages: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1_500);
    while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(text) = frame.unwrap() {
            messages.push(serde_json::from_str(&text).unwrap());
        }
    }
    // A step every 200 ms: the first message names both, then each step's changes.
    assert!(messages.len() >= 4, "{messages:?}");
    assert!(messages[0].get("bitcoin").is_some() && messages[0].get("ethereum").is_some());
    let mut last = std::collections::BTreeMap::new();
    for m in &messages {
        let object = m.as_object().unwrap();
        assert!(!object.is_empty());
        for (id, price) in object {
            assert!(id == "bitcoin" || id == "ethereum", "{id}");
            let text = price.as_str().expect("a price is a string");
            assert!(text.parse::<f64>().unwrap() > 0.0, "{text}");
            assert_ne!(
                last.get(id),
                Some(&text.to_owned()),
                "sent only when changed"
            );
            last.insert(id.clone(), text.to_owned());
        }
    }
    let served = sim.served().coincap_stream;
    assert_eq!(served["bitcoin"].usd, last["bitcoin"]);
    assert_eq!(served["ethereum"].usd, last["ethereum"]);
    assert_eq!(sim.stats().by_provider["coincap"].streams_open, 1);
}

#[tokio::test]
async fn coins_are_named_by_coincaps_ids_where_they_differ_from_coingeckos() {
    let sim = common::start(SimConfig::default()).await;
    let url = format!(
        "{}/prices?assets=binance-coin,avalanche,bitcoin",
        sim.coincap_stream_url()
    );
    let (mut ws, _) = connect_async(&url).await.unwrap();
    let first = loop {
        match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                break serde_json::from_str::<Value>(&text).unwrap();
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no message: {other:?}"),
        }
    };
    let ids: BTreeSet<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["avalanche", "binance-coin", "bitcoin"])
    );
    let served = sim.served().coincap_stream;
    assert_eq!(
        served["binancecoin"].usd,
        first["binance-coin"].as_str().unwrap(),
        "served is kept by catalogue id"
    );
}

#[tokio::test]
async fn unknown_assets_and_a_down_provider_are_refused_before_the_upgrade() {
    let sim = common::start(SimConfig::default()).await;
    let base = sim.coincap_stream_url();
    // `binancecoin` is CoinGecko's id; CoinCap calls the coin `binance-coin`.
    for query in [
        "assets=notacoin",
        "assets=",
        "",
        "assets=bitcoin,binancecoin",
    ] {
        let status = common::refused_upgrade(&format!("{base}/prices?{query}")).await;
        assert_eq!(status, 400, "{query}");
    }
    sim.control(&ControlRequest {
        provider: Some(Provider::CoinCap),
        down: Some(true),
        ..ControlRequest::default()
    })
    .unwrap();
    let status = common::refused_upgrade(&format!("{base}/prices?assets=bitcoin")).await;
    assert_eq!(status, 503);
}

/// A sim whose prices step every 200 ms, checked 20 times a second.
fn stepping(faults: Faults) -> SimConfig {
    SimConfig {
        step_ms: 200,
        streams: StreamConfig {
            trades_per_sec: 20.0,
            ..StreamConfig::default()
        },
        faults,
        ..SimConfig::default()
    }
}

async fn connect(sim: &SimHandle) -> common::Ws {
    let url = format!(
        "{}/prices?assets=bitcoin,ethereum",
        sim.coincap_stream_url()
    );
    connect_async(&url).await.unwrap().0
}

/// What a client makes of one message of the prices stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    Valid,
    NotJson,
    MissingPrice,
    NotANumber,
    Binary,
}

/// `None` for frames that are not data (pings, pongs, close).
fn classify(frame: &Message) -> Option<Seen> {
    let text = match frame {
        Message::Text(text) => text.as_str(),
        Message::Binary(_) => return Some(Seen::Binary),
        _ => return None,
    };
    let Ok(Value::Object(prices)) = serde_json::from_str::<Value>(text) else {
        return Some(Seen::NotJson);
    };
    let mut seen = Seen::Valid;
    for price in prices.values() {
        match price.as_str() {
            None => seen = seen.max(Seen::MissingPrice),
            Some(text) if text.parse::<f64>().is_err() => seen = seen.max(Seen::NotANumber),
            Some(_) => {}
        }
    }
    Some(seen)
}

/// The intact messages, as asset → price text.
fn prices(frames: &[Message]) -> Vec<BTreeMap<String, String>> {
    frames
        .iter()
        .filter(|f| classify(f) == Some(Seen::Valid))
        .map(|f| serde_json::from_str(f.to_text().unwrap()).unwrap())
        .collect()
}

fn coincap_stats(sim: &SimHandle) -> ProviderStats {
    sim.stats()
        .by_provider
        .get("coincap")
        .cloned()
        .unwrap_or_default()
}

fn coincap(change: ControlRequest) -> ControlRequest {
    ControlRequest {
        provider: Some(Provider::CoinCap),
        ..change
    }
}

#[tokio::test]
async fn a_silent_stream_stays_open_and_answers_pings_without_messages_until_cleared() {
    let sim = common::start(stepping(Faults::default())).await;
    let mut ws = connect(&sim).await;
    let before = common::frames_for(&mut ws, Duration::from_millis(600)).await;
    assert!(prices(&before).len() >= 2, "messages at first: {before:?}");

    sim.control(&coincap(ControlRequest {
        stream_silent: Some(true),
        ..ControlRequest::default()
    }))
    .unwrap();
    common::frames_for(&mut ws, Duration::from_millis(200)).await;
    let sent_before = coincap_stats(&sim).stream_frames_sent;
    let served_before = sim.served().coincap_stream;
    ws.send(Message::Ping("still there?".into())).await.unwrap();
    let silent = common::frames_for(&mut ws, Duration::from_millis(1_500)).await;
    let data: Vec<&Message> = silent.iter().filter(|f| classify(f).is_some()).collect();
    assert!(data.is_empty(), "no messages while silent: {data:?}");
    assert!(
        silent
            .iter()
            .any(|f| matches!(f, Message::Pong(p) if p.as_ref() == b"still there?")),
        "the client's ping is answered: {silent:?}"
    );
    assert_eq!(coincap_stats(&sim).stream_frames_sent, sent_before);
    assert_eq!(sim.served().coincap_stream, served_before);
    assert_eq!(
        coincap_stats(&sim).streams_open,
        1,
        "the connection stays open"
    );

    sim.control(&coincap(ControlRequest {
        stream_silent: Some(false),
        ..ControlRequest::default()
    }))
    .unwrap();
    let after = prices(&common::frames_for(&mut ws, Duration::from_millis(700)).await);
    assert!(after.len() >= 2, "messages resume: {after:?}");
    assert!(
        after[0].contains_key("bitcoin") && after[0].contains_key("ethereum"),
        "the prices that moved meanwhile come first: {after:?}"
    );
    let last_bitcoin = after.iter().rev().find_map(|m| m.get("bitcoin")).unwrap();
    assert_eq!(&sim.served().coincap_stream["bitcoin"].usd, last_bitcoin);
    assert_ne!(&served_before["bitcoin"].usd, last_bitcoin);
}

#[tokio::test]
async fn at_a_malformed_rate_of_one_every_message_is_malformed_and_none_is_served() {
    let sim = common::start(stepping(Faults {
        coincap: ProviderFaults {
            stream_malformed_rate: 1.0,
            ..ProviderFaults::default()
        },
        ..Faults::default()
    }))
    .await;
    let mut ws = connect(&sim).await;
    let mut frames = common::frames_for(&mut ws, Duration::from_millis(1_200)).await;
    // Silence the stream so that every frame sent has arrived when the counters are read.
    sim.control(&coincap(ControlRequest {
        stream_silent: Some(true),
        ..ControlRequest::default()
    }))
    .unwrap();
    frames.extend(common::frames_for(&mut ws, Duration::from_millis(300)).await);

    let mut seen: BTreeMap<Seen, usize> = BTreeMap::new();
    for kind in frames.iter().filter_map(classify) {
        *seen.entry(kind).or_default() += 1;
    }
    let data: usize = seen.values().sum();
    assert!(data >= 10, "{seen:?}");
    assert_eq!(seen.get(&Seen::Valid), None, "{seen:?}");
    for kind in [
        Seen::NotJson,
        Seen::MissingPrice,
        Seen::NotANumber,
        Seen::Binary,
    ] {
        assert!(seen.contains_key(&kind), "no {kind:?} among {seen:?}");
    }
    let stats = coincap_stats(&sim);
    assert_eq!(stats.stream_frames_sent, data as u64);
    assert_eq!(stats.stream_frames_malformed, data as u64);
    assert!(
        sim.served().coincap_stream.is_empty(),
        "a malformed price is not served"
    );

    // Back to intact messages at run time: the prices never delivered come first.
    sim.control(&coincap(ControlRequest {
        stream_silent: Some(false),
        stream_malformed_rate: Some(0.0),
        ..ControlRequest::default()
    }))
    .unwrap();
    let intact = common::frames_for(&mut ws, Duration::from_millis(700)).await;
    let kinds: BTreeSet<Seen> = intact.iter().filter_map(classify).collect();
    assert_eq!(kinds, BTreeSet::from([Seen::Valid]));
    let intact = prices(&intact);
    assert!(intact[0].contains_key("bitcoin") && intact[0].contains_key("ethereum"));
    let last_bitcoin = intact.iter().rev().find_map(|m| m.get("bitcoin")).unwrap();
    assert_eq!(&sim.served().coincap_stream["bitcoin"].usd, last_bitcoin);
    assert_eq!(coincap_stats(&sim).stream_frames_malformed, data as u64);
}

#[tokio::test]
async fn drop_streams_closes_every_open_connection_and_a_new_one_is_served() {
    let sim = common::start(stepping(Faults::default())).await;
    let mut first = connect(&sim).await;
    let mut second = connect(&sim).await;
    common::eventually("two connections open", || {
        coincap_stats(&sim).streams_open == 2
    })
    .await;

    sim.control(&coincap(ControlRequest {
        drop_streams: Some(true),
        ..ControlRequest::default()
    }))
    .unwrap();

    for ws in [&mut first, &mut second] {
        let close = common::close_frame(ws).await.expect("a close code");
        assert_eq!(close.code, CloseCode::Away);
    }
    common::eventually("no connection open", || {
        coincap_stats(&sim).streams_open == 0
    })
    .await;
    assert_eq!(coincap_stats(&sim).streams_dropped, 2);

    let mut third = connect(&sim).await;
    let messages = prices(&common::frames_for(&mut third, Duration::from_millis(700)).await);
    assert!(
        messages.len() >= 2,
        "a new connection is served: {messages:?}"
    );
    let stats = coincap_stats(&sim);
    assert_eq!(
        (
            stats.streams_open,
            stats.streams_opened,
            stats.streams_dropped
        ),
        (1, 3, 2),
        "a drop is once: the new connection stays"
    );
}
