//! Helpers shared by the simulator's HTTP tests: a sim on port 0 and a few typed requests.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;

use coinbeat_sim::{ControlRequest, Provider, SimConfig, SimHandle};
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// A coin's fields as raw JSON text, so tests see the exact digits that were sent.
pub type RawPrices = BTreeMap<String, BTreeMap<String, Box<RawValue>>>;

pub const ALL_FLAGS: [(&str, &str); 4] = [
    ("include_market_cap", "true"),
    ("include_24hr_vol", "true"),
    ("include_24hr_change", "true"),
    ("include_last_updated_at", "true"),
];

/// A sim whose prices only move when a test advances them.
pub async fn frozen_sim(seed: u64) -> SimHandle {
    start(SimConfig {
        seed,
        step_ms: 0,
        ..SimConfig::default()
    })
    .await
}

pub async fn start(config: SimConfig) -> SimHandle {
    coinbeat_sim::start(config)
        .await
        .expect("the sim starts on port 0")
}

pub async fn get(sim: &SimHandle, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url()))
        .query(query)
        .send()
        .await
        .expect("the sim answers")
}

/// `GET /simple/price`, expecting a 200, with each value as raw text.
pub async fn prices(sim: &SimHandle, query: &[(&str, &str)]) -> RawPrices {
    let response = get(sim, "/simple/price", query).await;
    assert_eq!(
        response.status(),
        200,
        "simple/price answered {}",
        response.status()
    );
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a price object ({e}): {text}"))
}

/// A raw JSON number as f64.
pub fn num(raw: &RawValue) -> f64 {
    raw.get()
        .parse()
        .unwrap_or_else(|_| panic!("not a plain number: {}", raw.get()))
}

pub async fn sim_get<T: serde::de::DeserializeOwned>(sim: &SimHandle, path: &str) -> T {
    reqwest::Client::new()
        .get(format!("{}{path}", sim.root_url()))
        .send()
        .await
        .expect("the sim answers")
        .json()
        .await
        .expect("a JSON body")
}

pub async fn sim_post(sim: &SimHandle, path: &str, body: serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", sim.root_url()))
        .json(&body)
        .send()
        .await
        .expect("the sim answers")
}

/// `GET` any URL with a query, expecting an answer.
pub async fn fetch(url: &str, query: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .query(query)
        .send()
        .await
        .expect("the sim answers")
}

/// `GET` any URL and parse its JSON body, whatever the status.
pub async fn fetch_json(url: &str, query: &[(&str, &str)]) -> serde_json::Value {
    let text = fetch(url, query).await.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The HTTP status a WebSocket upgrade at `url` was refused with; panics if it was accepted or
/// failed some other way.
pub async fn refused_upgrade(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("{url}: {other}"),
        Ok(_) => panic!("{url}: the upgrade was accepted"),
    }
}

/// A client's end of a stream connection.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Every frame a connection receives for `how_long`, or until it ends: raw, so malformed frames
/// can be looked at too.
pub async fn frames_for(ws: &mut Ws, how_long: std::time::Duration) -> Vec<Message> {
    use futures::StreamExt;
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + how_long;
    while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, ws.next()).await {
        match frame {
            Ok(frame) => frames.push(frame),
            Err(e) => panic!("the connection failed: {e}"),
        }
    }
    frames
}

/// The Close frame the server ends a connection with; panics if none comes within 5 s.
pub async fn close_frame(ws: &mut Ws) -> Option<CloseFrame> {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame,
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => panic!("the connection ended without a Close frame: {e}"),
            Ok(None) => panic!("the connection ended without a Close frame"),
            Err(_) => panic!("no Close frame within 5 s"),
        }
    }
}

/// Waits up to 5 s for `done`, polling; panics with `what` if it never holds.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A stream fault or action for one provider, applied through the handle as tests do.
pub fn stream_control(sim: &SimHandle, provider: Provider, change: ControlRequest) {
    sim.control(&ControlRequest {
        provider: Some(provider),
        ..change
    })
    .expect("a valid stream fault");
}
