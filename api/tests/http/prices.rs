//! `GET /v1/prices` and `GET /v1/prices/{symbol}`.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Api, assert_error, record};

fn symbols(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|p| p["symbol"].as_str().unwrap())
        .collect()
}

fn find<'a>(list: &'a Value, symbol: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["symbol"] == symbol)
        .unwrap_or_else(|| panic!("{symbol} not in {list}"))
}

#[tokio::test]
async fn listing_all_prices_serves_cached_tracked_symbols_with_decimals_exactly_as_written() {
    let api = Api::start().await;
    let now = Utc::now();
    api.write(&[
        record("BTC", "67187.3358936566", now),
        record("TRX", "0.00001234", now),
    ])
    .await;

    let (status, body) = api.get("/v1/prices").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(symbols(&body["prices"]), ["TRX", "BTC"], "tracked order");
    let btc = find(&body["prices"], "BTC");
    assert_eq!(btc["usd"], "67187.3358936566");
    assert_eq!(btc["coin_id"], "bitcoin");
    assert_eq!(btc["change_24h_pct"], "-1.250");
    assert_eq!(btc["market_cap_usd"], "1325847389123.5");
    assert_eq!(btc["volume_24h_usd"], "28734987.0012");
    assert_eq!(btc["source"], "coingecko");
    assert_eq!(btc["stale"], false);
    assert!(btc["age_seconds"].as_u64().unwrap() < 60, "{btc}");
    assert!(btc["fetched_at"].as_str().unwrap().ends_with('Z'), "{btc}");
    assert!(btc["upstream_updated_at"].is_string(), "{btc}");
    // The price is of the upstream's moment, 30 s before the fetch, and that old.
    assert_eq!(btc["as_of"], btc["upstream_updated_at"], "{btc}");
    let age_ms = btc["age_ms"].as_u64().unwrap();
    assert!((30_000..90_000).contains(&age_ms), "{btc}");
    assert_eq!(find(&body["prices"], "TRX")["usd"], "0.00001234");

    let missing = &body["missing"];
    assert_eq!(missing.as_array().unwrap().len(), 10, "{missing}");
    let wld = find(missing, "WLD");
    assert_eq!(wld["reason"], "not_fetched_yet");
    assert!(
        wld["message"]
            .as_str()
            .unwrap()
            .contains("not been fetched yet"),
        "{wld}"
    );
}

#[tokio::test]
async fn a_symbols_query_returns_just_those_symbols_in_the_order_asked() {
    let api = Api::start().await;
    let now = Utc::now();
    api.write(&[
        record("BTC", "67187.33", now),
        record("ETH", "3521.1", now),
        record("SOL", "151.2", now),
    ])
    .await;

    let (status, body) = api.get("/v1/prices?symbols=eth,BTC,OP,NOPE,btc").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(symbols(&body["prices"]), ["ETH", "BTC"]);
    assert_eq!(symbols(&body["missing"]), ["OP", "NOPE"]);
    assert_eq!(find(&body["missing"], "OP")["reason"], "not_fetched_yet");
    assert_eq!(find(&body["missing"], "NOPE")["reason"], "unknown_coin");
}

#[tokio::test]
async fn a_malformed_symbol_in_the_list_is_a_422() {
    let api = Api::start().await;
    let (status, body) = api.get("/v1/prices?symbols=BTC,B-TC").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_symbol");
    assert!(body["error"]["message"].as_str().unwrap().contains("B-TC"));

    let (status, body) = api.get("/v1/prices?symbols=").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_symbol");
}

#[tokio::test]
async fn a_record_past_its_freshness_window_is_still_served_but_marked_stale() {
    let api = Api::start_with(|s| s.prices.fresh_secs = 60).await;
    let now = Utc::now();
    api.write(&[
        record("BTC", "67000.5", now - Duration::seconds(300)),
        record("ETH", "3500.25", now),
    ])
    .await;

    let (status, btc) = api.get("/v1/prices/BTC").await;
    assert_eq!(status, StatusCode::OK, "{btc}");
    assert_eq!(btc["stale"], true, "{btc}");
    assert_eq!(btc["usd"], "67000.5");
    let age = btc["age_seconds"].as_u64().unwrap();
    assert!((300..360).contains(&age), "{btc}");

    let (_, list) = api.get("/v1/prices?symbols=BTC,ETH").await;
    assert_eq!(find(&list["prices"], "BTC")["stale"], true);
    assert_eq!(find(&list["prices"], "ETH")["stale"], false);
}

#[tokio::test]
async fn a_single_price_is_served_by_symbol_in_any_case() {
    let api = Api::start().await;
    api.write(&[record("ETH", "3521.123456789", Utc::now())])
        .await;

    let (status, body) = api.get("/v1/prices/eth").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["symbol"], "ETH");
    assert_eq!(body["usd"], "3521.123456789");
    assert_eq!(body["stale"], false);
}

#[tokio::test]
async fn a_tracked_symbol_not_fetched_yet_is_a_404_that_says_so() {
    let api = Api::start().await;

    let (status, body) = api.get("/v1/prices/WLD").await;

    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "not_fetched_yet");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("WLD (worldcoin-wld) is tracked"),
        "{message}"
    );
    assert!(message.contains("not been fetched yet"), "{message}");
}

#[tokio::test]
async fn an_unknown_coin_is_a_404_unless_something_is_cached_under_its_id() {
    let api = Api::start().await;

    let (status, body) = api.get("/v1/prices/NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unknown_coin");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("NOPE") && message.contains("catalogue"),
        "{message}"
    );

    // A record the cache holds is served by its coin id even when nothing else knows the coin;
    // its symbol names it only through the catalogue or `[prices.coins]`.
    api.write(&[record("PEPE", "0.0000123456", Utc::now())])
        .await;
    let (status, body) = api.get("/v1/prices/pepe-coin").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["usd"], "0.0000123456");
    assert_eq!(body["coin_id"], "pepe-coin");
    let (status, body) = api.get("/v1/prices/PEPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unknown_coin");
}

#[tokio::test]
async fn a_malformed_symbol_is_a_422() {
    let api = Api::start().await;
    for bad in ["B-TC", "ABCDEFGHIJKLMNOP", "%20"] {
        let (status, body) = api.get(&format!("/v1/prices/{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_error(&body, "invalid_symbol");
    }
}
