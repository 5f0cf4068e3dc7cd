//! CoinCap's prices stream as the simulator serves it over a real WebSocket: flat objects of the
//! assets that changed, prices as strings that agree with what the simulator says it sent, and
//! refusals before the upgrade.

mod common;

use std::time::Duration;

use coinbeat_sim::{ControlRequest, Provider, SimConfig, StreamConfig};
use futures::StreamExt;
use serde_json::Value;
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
async fn unknown_assets_and_a_down_provider_are_refused_before_the_upgrade() {
    let sim = common::start(SimConfig::default()).await;
    let base = sim.coincap_stream_url();
    for query in ["assets=notacoin", "assets=", ""] {
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
