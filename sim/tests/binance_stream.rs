//! Binance's combined streams as the simulator serves them over a real WebSocket: the event
//! envelope and fields, trades that agree with what the simulator says it sent, pings, the
//! connection lifetime, request frames, refusals before the upgrade, the stream faults (silence,
//! malformed frames, drops), and synthetic coins listed for a thousand-symbol stream.

mod common;

use std::time::{Duration, Instant};

use std::collections::{BTreeMap, BTreeSet};

use coinbeat_sim::{ControlRequest, Faults, Provider, ProviderFaults, SimConfig, StreamConfig};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
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
        ..StreamConfig::default()
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

/// What a client makes of one data frame of a combined stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    Valid,
    NotJson,
    MissingFields,
    NotANumber,
    Binary,
}

/// `None` for frames that are not data (pings, pongs, request replies, close).
fn classify(frame: &Message) -> Option<Seen> {
    let text = match frame {
        Message::Text(text) => text.as_str(),
        Message::Binary(_) => return Some(Seen::Binary),
        _ => return None,
    };
    let Ok(event) = serde_json::from_str::<Value>(text) else {
        return Some(Seen::NotJson);
    };
    if event.get("result").is_some() {
        return None;
    }
    let data = &event["data"];
    let price_field = if data["e"] == "aggTrade" { "p" } else { "c" };
    let complete = event["stream"].is_string() && data["s"].is_string();
    Some(match data[price_field].as_str() {
        Some(price) if complete && price.parse::<f64>().is_ok() => Seen::Valid,
        Some(_) if complete => Seen::NotANumber,
        _ => Seen::MissingFields,
    })
}

/// The text frames that parse as JSON (events and replies).
fn events(frames: &[Message]) -> Vec<Value> {
    frames
        .iter()
        .filter_map(|f| match f {
            Message::Text(text) => serde_json::from_str(text).ok(),
            _ => None,
        })
        .collect()
}

fn binance_stats(sim: &coinbeat_sim::SimHandle) -> coinbeat_sim::ProviderStats {
    sim.stats()
        .by_provider
        .get("binance")
        .cloned()
        .unwrap_or_default()
}

fn binance(change: ControlRequest) -> ControlRequest {
    ControlRequest {
        provider: Some(Provider::Binance),
        ..change
    }
}

#[tokio::test]
async fn a_silent_stream_keeps_pinging_and_answering_pings_without_data_until_cleared() {
    let sim = sim(fast()).await;
    let url = format!(
        "{}/stream?streams=btcusdt@aggTrade/ethusdt@ticker",
        sim.binance_stream_url()
    );
    let (mut ws, _) = connect_async(&url).await.unwrap();
    let before = common::frames_for(&mut ws, Duration::from_millis(500)).await;
    assert!(
        before.iter().filter_map(classify).count() >= 5,
        "data flows at first: {before:?}"
    );

    sim.control(&binance(ControlRequest {
        stream_silent: Some(true),
        ..ControlRequest::default()
    }))
    .unwrap();
    // Whatever a tick begun before the change sent is let through.
    common::frames_for(&mut ws, Duration::from_millis(300)).await;
    let sent_before = binance_stats(&sim).stream_frames_sent;
    ws.send(Message::Ping("still there?".into())).await.unwrap();
    let silent = common::frames_for(&mut ws, Duration::from_millis(2_500)).await;
    let data: Vec<&Message> = silent.iter().filter(|f| classify(f).is_some()).collect();
    assert!(data.is_empty(), "no data while silent: {data:?}");
    let pings = silent
        .iter()
        .filter(|f| matches!(f, Message::Ping(_)))
        .count();
    assert!(pings >= 2, "a ping every second while silent: {silent:?}");
    assert!(
        silent
            .iter()
            .any(|f| matches!(f, Message::Pong(p) if p.as_ref() == b"still there?")),
        "the client's ping is answered: {silent:?}"
    );
    assert_eq!(binance_stats(&sim).stream_frames_sent, sent_before);
    assert_eq!(
        binance_stats(&sim).streams_open,
        1,
        "the connection stays open"
    );

    sim.control(&binance(ControlRequest {
        stream_silent: Some(false),
        ..ControlRequest::default()
    }))
    .unwrap();
    let after = common::frames_for(&mut ws, Duration::from_millis(1_200)).await;
    assert!(
        after.iter().filter_map(classify).all(|s| s == Seen::Valid),
        "{after:?}"
    );
    let after = events(&after);
    let trades: Vec<&Value> = after
        .iter()
        .filter(|e| e["stream"] == "btcusdt@aggTrade")
        .collect();
    assert!(trades.len() >= 10, "trades resume: {}", trades.len());
    assert!(
        after.iter().any(|e| e["stream"] == "ethusdt@ticker"),
        "tickers resume"
    );
    let last = &trades.last().unwrap()["data"];
    let served = &sim.served().binance_stream["BTCUSDT"];
    assert_eq!(served.usd, last["p"].as_str().unwrap());
    assert_eq!(served.trade_id, last["a"].as_u64().unwrap());
    assert!(binance_stats(&sim).stream_frames_sent > sent_before);
}

#[tokio::test]
async fn at_a_malformed_rate_of_one_every_data_frame_is_malformed_and_none_is_served() {
    let sim = common::start(SimConfig {
        streams: fast(),
        faults: Faults {
            binance: ProviderFaults {
                stream_malformed_rate: 1.0,
                ..ProviderFaults::default()
            },
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let url = format!(
        "{}/stream?streams=btcusdt@aggTrade/ethusdt@ticker/ethusdt@miniTicker",
        sim.binance_stream_url()
    );
    let (mut ws, _) = connect_async(&url).await.unwrap();
    let mut frames = common::frames_for(&mut ws, Duration::from_millis(1_500)).await;
    // Silence the stream so that every frame sent has arrived when the counters are read.
    sim.control(&binance(ControlRequest {
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
    assert!(data >= 30, "about 20 trades a second: {seen:?}");
    assert_eq!(seen.get(&Seen::Valid), None, "{seen:?}");
    for kind in [
        Seen::NotJson,
        Seen::MissingFields,
        Seen::NotANumber,
        Seen::Binary,
    ] {
        assert!(seen.contains_key(&kind), "no {kind:?} among {seen:?}");
    }
    let stats = binance_stats(&sim);
    assert_eq!(stats.stream_frames_sent, data as u64);
    assert_eq!(stats.stream_frames_malformed, data as u64);
    assert!(
        sim.served().binance_stream.is_empty(),
        "a malformed trade is not served"
    );

    // Back to intact frames at run time: every one is valid and the last trade is served.
    sim.control(&binance(ControlRequest {
        stream_silent: Some(false),
        stream_malformed_rate: Some(0.0),
        ..ControlRequest::default()
    }))
    .unwrap();
    common::frames_for(&mut ws, Duration::from_millis(200)).await;
    let intact = common::frames_for(&mut ws, Duration::from_millis(1_000)).await;
    let kinds: BTreeSet<Seen> = intact.iter().filter_map(classify).collect();
    assert_eq!(kinds, BTreeSet::from([Seen::Valid]));
    let last = events(&intact)
        .into_iter()
        .rfind(|e| e["stream"] == "btcusdt@aggTrade")
        .expect("trades");
    let served = &sim.served().binance_stream["BTCUSDT"];
    assert_eq!(served.usd, last["data"]["p"].as_str().unwrap());
    assert_eq!(binance_stats(&sim).stream_frames_malformed, data as u64);
}

#[tokio::test]
async fn drop_streams_closes_every_open_connection_and_a_new_one_is_served() {
    let sim = sim(fast()).await;
    let url = format!(
        "{}/stream?streams=btcusdt@aggTrade",
        sim.binance_stream_url()
    );
    let (mut first, _) = connect_async(&url).await.unwrap();
    let (mut second, _) = connect_async(&url).await.unwrap();
    common::eventually("two connections open", || {
        binance_stats(&sim).streams_open == 2
    })
    .await;

    sim.control(&binance(ControlRequest {
        drop_streams: Some(true),
        ..ControlRequest::default()
    }))
    .unwrap();

    for ws in [&mut first, &mut second] {
        let close = common::close_frame(ws).await.expect("a close code");
        assert_eq!(close.code, CloseCode::Away);
    }
    common::eventually("no connection open", || {
        binance_stats(&sim).streams_open == 0
    })
    .await;
    assert_eq!(binance_stats(&sim).streams_dropped, 2);

    let (mut third, _) = connect_async(&url).await.unwrap();
    let frames = common::frames_for(&mut third, Duration::from_millis(1_000)).await;
    let trades = frames
        .iter()
        .filter(|f| classify(f) == Some(Seen::Valid))
        .count();
    assert!(trades >= 10, "a new connection is served: {trades}");
    let stats = binance_stats(&sim);
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

#[tokio::test]
async fn listed_synthetic_coins_stream_nearly_a_thousand_symbols_on_one_connection() {
    let listed = common::start(SimConfig {
        extra_coins: 1000,
        streams: StreamConfig {
            trades_per_sec: 2.0,
            list_synthetic_on_binance: true,
            ..fast()
        },
        ..SimConfig::default()
    })
    .await;
    let unlisted = common::start(SimConfig {
        extra_coins: 1000,
        streams: fast(),
        ..SimConfig::default()
    })
    .await;
    let pairs = |sim: &coinbeat_sim::SimHandle| {
        let url = format!("{}/api/v3/ticker/price", sim.binance_url());
        async move {
            let rows = common::fetch_json(&url, &[]).await;
            rows.as_array()
                .unwrap()
                .iter()
                .map(|r| r["symbol"].as_str().unwrap().to_owned())
                .collect::<BTreeSet<String>>()
        }
    };
    let builtin = pairs(&unlisted).await;
    let synthetic: Vec<String> = pairs(&listed)
        .await
        .into_iter()
        .filter(|s| !builtin.contains(s))
        .collect();
    assert!(synthetic.len() > 900, "{} pairs", synthetic.len());
    let query = format!(
        "streams={}",
        synthetic
            .iter()
            .map(|s| format!("{}@aggTrade", s.to_lowercase()))
            .collect::<Vec<_>>()
            .join("/")
    );

    let status =
        common::refused_upgrade(&format!("{}/stream?{query}", unlisted.binance_stream_url())).await;
    assert_eq!(status, 400, "synthetic coins are not listed by default");

    let (mut ws, _) = connect_async(format!("{}/stream?{query}", listed.binance_stream_url()))
        .await
        .unwrap();
    let frames = common::frames_for(&mut ws, Duration::from_millis(1_500)).await;
    let symbols: BTreeSet<String> = events(&frames)
        .iter()
        .map(|e| e["data"]["s"].as_str().expect("a trade").to_owned())
        .collect();
    assert_eq!(symbols.len(), synthetic.len(), "every symbol trades");
    assert!(symbols.iter().eq(synthetic.iter()));
    let served = listed.served().binance_stream;
    assert_eq!(served.len(), synthetic.len());
    assert!(served[&synthetic[41]].usd.parse::<f64>().unwrap() > 0.0);
}
