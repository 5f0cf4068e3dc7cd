//! The in-process copy of the price records: kept current by the price events, loaded at
//! subscribe time, and really used (a warm read sends no `HGET` to Redis).

use std::time::{Duration, Instant};

use chrono::Utc;
use coinbeat_shared::{keys::Keys, redis_conn};
use reqwest::StatusCode;

use crate::support::{Api, coin_of, hget_calls, record, wait_served_from_copy};

/// Polls `GET path` until its `usd` is `usd`.
async fn wait_for_usd(api: &Api, path: &str, usd: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, body) = api.get(path).await;
        if body["usd"] == usd {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed {usd}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_write_reaches_the_copy_and_an_older_write_does_not_replace_it() {
    let api = Api::start().await;
    let now = Utc::now();
    api.write(&[record(
        "BTC",
        "60000.1",
        now - chrono::Duration::seconds(20),
    )])
    .await;
    wait_served_from_copy(&api, "/v1/prices/BTC").await;

    api.write(&[record("BTC", "61000.2", now)]).await;
    wait_for_usd(&api, "/v1/prices/BTC", "61000.2").await;
    let before = hget_calls(&api).await;
    let (status, body) = api.get("/v1/prices/BTC").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["usd"], "61000.2", "{body}");
    assert_eq!(
        hget_calls(&api).await,
        before,
        "the new record came from the copy"
    );

    let outcome = api
        .cache()
        .await
        .write(&[record(
            "BTC",
            "59000.3",
            now - chrono::Duration::seconds(10),
        )])
        .await
        .unwrap();
    assert_eq!(outcome.skipped, 1, "the older write is skipped");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, body) = api.get("/v1/prices/BTC").await;
    assert_eq!(body["usd"], "61000.2", "{body}");
    let (_, list) = api.get("/v1/prices?symbols=BTC").await;
    assert_eq!(list["prices"][0]["usd"], "61000.2", "{list}");
}

#[tokio::test]
async fn warm_reads_send_no_hget_to_redis() {
    let api = Api::start().await;
    api.write(&[record("BTC", "67187.3358936566", Utc::now())])
        .await;
    wait_served_from_copy(&api, "/v1/prices/BTC").await;

    let before = hget_calls(&api).await;
    for _ in 0..200 {
        let (status, body) = api.get("/v1/prices/BTC").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["usd"], "67187.3358936566");
    }
    assert_eq!(hget_calls(&api).await - before, 0, "200 warm reads");

    // A symbol not in the copy still goes to Redis (and is a 404 as before).
    let (status, _) = api.get("/v1/prices/ETH").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(hget_calls(&api).await > before, "a miss asks Redis");
}

#[tokio::test]
async fn a_record_written_around_the_channel_is_served_from_the_copy_after_a_restart() {
    let mut api = Api::start().await;
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    let eth = record("ETH", "3521.5", Utc::now());
    let mut conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let _: () = redis::pipe()
        .hset(
            keys.price(&coin_of("ETH")),
            "record",
            serde_json::to_string(&eth).unwrap(),
        )
        .ignore()
        .hset(
            keys.price(&coin_of("ETH")),
            "fetched_at_ms",
            eth.fetched_at.timestamp_millis(),
        )
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();

    api.restart_server().await;

    wait_served_from_copy(&api, "/v1/prices/ETH").await;
    let (status, body) = api.get("/v1/prices/eth").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["usd"], "3521.5", "{body}");
}
