//! `GET /v1/status`: the price service at a glance, with Redis up and then down.

use std::time::{Duration, Instant};

use chrono::Utc;
use coinbeat_shared::settings::Secret;
use reqwest::StatusCode;

use crate::support::{Api, READ_KEY, record, wait_served_from_copy};

const CG_KEY: &str = "CG-status-test-key";

#[tokio::test]
async fn status_counts_the_tracked_prices_and_their_ages_names_the_providers_and_survives_redis_down()
 {
    let mut api = Api::start_with(|s| {
        s.providers.coingecko.api_key = Some(Secret::new(CG_KEY));
    })
    .await;
    let status = async |api: &Api| api.get_as("/v1/status", Some(READ_KEY)).await;

    // Nothing cached yet: every tracked symbol counted, none held.
    let (code, empty) = status(&api).await;
    assert_eq!(code, StatusCode::OK, "{empty}");
    let tracked = api.settings.prices.tracked.len();
    assert_eq!(
        empty["prices"]["tracked"].as_array().unwrap().len(),
        tracked
    );
    assert_eq!(empty["prices"]["tracked_source"], "settings");
    assert_eq!(empty["prices"]["cached"], 0);
    assert!(empty["prices"]["last_update"].is_null(), "{empty}");
    assert_eq!(empty["redis"]["connected"], true, "{empty}");
    assert!(empty["redis"]["latency_ms"].as_f64().is_some(), "{empty}");
    assert_eq!(empty["history_storage"]["status"], "off");

    // One fresh price and one an hour old.
    let now = Utc::now();
    let hour_ago = now - chrono::Duration::hours(1);
    api.write(&[
        record("BTC", "67000.5", now),
        record("ETH", "3500.25", hour_ago),
    ])
    .await;
    wait_served_from_copy(&api, "/v1/prices/BTC").await;
    wait_served_from_copy(&api, "/v1/prices/ETH").await;
    let (code, body) = status(&api).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let prices = &body["prices"];
    assert_eq!(
        (prices["cached"].as_u64(), prices["stale"].as_u64()),
        (Some(2), Some(1)),
        "{body}"
    );
    let at = |field: &str| {
        prices[field]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap()
    };
    assert_eq!(at("last_update"), now);
    assert_eq!(at("oldest_update"), hour_ago);
    assert_eq!(prices["fresh_secs"], api.settings.prices.fresh_secs);
    assert_eq!(prices["cache_unchecked"], false);

    // Providers: whether a key is set, never the key.
    let providers = body["providers"].as_array().unwrap();
    let coingecko = providers.iter().find(|p| p["name"] == "coingecko").unwrap();
    assert_eq!(coingecko["api_key"], true, "{body}");
    assert!(
        coingecko["rate_limit"].as_str().unwrap().contains("/"),
        "{body}"
    );
    let etherscan = providers.iter().find(|p| p["name"] == "etherscan").unwrap();
    assert_eq!(etherscan["api_key"], false, "{body}");
    let names: Vec<&str> = providers
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "coingecko",
            "binance",
            "etherscan",
            "coinlore",
            "alchemy",
            "coincap",
            "alphavantage"
        ]
    );
    assert_eq!(
        body["price_chain"],
        serde_json::json!(["coingecko", "binance"]),
        "the default chain"
    );
    // The default currencies, none with a rate yet.
    let rates = body["rates"].as_array().unwrap();
    let codes: Vec<&str> = rates
        .iter()
        .map(|r| r["currency"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["EUR", "GBP", "JPY"], "{body}");
    assert!(
        rates
            .iter()
            .all(|r| r["per_usd"].is_null() && r["stale"] == true)
    );
    assert!(!body.to_string().contains(CG_KEY), "the key leaked: {body}");

    // Anonymous: the operational reads need a key.
    assert_eq!(
        api.get_as("/v1/status", None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Redis down: still 200, saying so, the counts from the in-process copy.
    api.redis.kill();
    let killed = Instant::now();
    let (code, body) = status(&api).await;
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["redis"]["connected"], false, "{body}");
    assert!(body["redis"]["error"].as_str().is_some(), "{body}");
    assert_eq!(body["prices"]["cache_unchecked"], true, "{body}");
    assert_eq!(body["prices"]["tracked_source"], "settings-unchecked");
    assert_eq!(body["prices"]["cached"], 2, "{body}");
}
