//! Helpers shared by the simulator's HTTP tests: a sim on port 0 and a few typed requests.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;

use coinbeat_sim::{SimConfig, SimHandle};
use serde_json::value::RawValue;

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
