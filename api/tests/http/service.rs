//! Queues, health, readiness, Redis outages, unknown routes and wrong methods, shutdown.

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use serde_json::json;

use chrono::Utc;

use crate::support::{Api, assert_error, json, record, wait_served_from_copy};

/// Generous for a loaded 2-core machine: this checks that requests do not hang on a dead
/// Redis (the Redis timeout is 1 s), not how fast they fail.
const HANG_BOUND: Duration = Duration::from_secs(3);

#[tokio::test]
async fn queues_lists_all_nine_product_queues() {
    let api = Api::start().await;
    let (status, body) = api.get("/v1/queues").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "prices",
            "market",
            "wallet",
            "health",
            "cleanup",
            "catalogue",
            "history",
            "rates",
            "alerts"
        ]
    );
    assert_eq!(body["queues"][2]["waiting"], 0);
    assert_eq!(body["queues"][2]["live_workers"], 0);
}

#[tokio::test]
async fn healthz_and_readyz_are_ok_while_redis_answers() {
    let api = Api::start().await;
    assert_eq!(
        api.get("/healthz").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        api.get("/readyz").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn before_any_copy_is_loaded_a_dead_redis_makes_readyz_and_reads_503_quickly() {
    // Pointed at a Redis that is gone before the API's first load: nothing to serve from.
    let mut api = Api::start_with(|_| {}).await;
    api.redis.kill();
    for path in ["/readyz", "/v1/prices/BTC", "/v1/prices", "/v1/queues"] {
        let started = Instant::now();
        let (status, body) = api.get(path).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_error(&body, "redis_unavailable");
        assert!(
            started.elapsed() < HANG_BOUND,
            "{path} took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(api.get("/healthz").await.0, StatusCode::OK);
}

/// Issue 21: reads go on from the in-process copy while Redis is down, each price saying so;
/// writes are refused; `/readyz` says degraded; once Redis is back, a write reaches the API
/// within a second.
#[tokio::test]
async fn while_redis_is_down_reads_answer_from_memory_marked_and_writes_503_then_it_resyncs() {
    let mut api = Api::start().await;
    let now = Utc::now();
    api.write(&[
        record("BTC", "67000.5", now),
        record("ETH", "3500.25", now - chrono::Duration::hours(1)),
    ])
    .await;
    wait_served_from_copy(&api, "/v1/prices/BTC").await;
    // The tracked list and the catalogue as the API last read them.
    let (status, before) = api.get("/v1/prices").await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["prices"][0]["cache_unchecked"], false, "{before}");

    api.redis.kill();
    let killed = Instant::now();
    // Every answer is 200 (until the copy notices the subscription's loss it is current, and
    // then it is served marked), and within a second it is marked.
    loop {
        let (status, body) = api.get("/v1/prices/BTC").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["usd"], "67000.5");
        assert_eq!(body["stale"], false);
        if body["cache_unchecked"] == true {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(1),
            "not marked after {:?}: {body}",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A list: what the copy holds, marked, its age honest; the rest missing, and why.
    let (status, list) = api.get("/v1/prices?symbols=BTC,ETH,SOL").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let prices = list["prices"].as_array().unwrap();
    assert_eq!(prices.len(), 2, "{list}");
    assert!(
        prices.iter().all(|p| p["cache_unchecked"] == true),
        "{list}"
    );
    assert_eq!(prices[1]["symbol"], "ETH");
    assert_eq!(
        prices[1]["stale"], true,
        "an hour old is stale, from memory too"
    );
    assert!(prices[1]["age_seconds"].as_u64().unwrap() >= 3_600);
    assert_eq!(list["missing"][0]["symbol"], "SOL");
    assert_eq!(list["missing"][0]["reason"], "cache_unreachable", "{list}");
    // The tracked list, as last read.
    let (status, tracked) = api.get("/v1/prices").await;
    assert_eq!(status, StatusCode::OK, "{tracked}");
    assert_eq!(tracked["prices"][0]["cache_unchecked"], true);

    // A coin the copy does not hold cannot be answered.
    let (status, body) = api.get("/v1/prices/SOL").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "redis_unavailable");
    // Writes are refused.
    let started = Instant::now();
    let (status, body) = json(api.post("/v1/tasks", &json!({"kind": "health"})).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(started.elapsed() < HANG_BOUND);
    // Ready, degraded: the process still serves.
    let (status, body) = api.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(api.get("/healthz").await.0, StatusCode::OK);

    // Redis is back (empty: it kept nothing). A write made after its return reaches the API
    // within a second, and is no longer marked.
    api.redis.restart();
    let written = Instant::now();
    api.write(&[record("BTC", "68000", Utc::now())]).await;
    loop {
        let (status, body) = api.get("/v1/prices/BTC").await;
        if status == StatusCode::OK && body["usd"] == "68000" {
            assert_eq!(body["cache_unchecked"], false, "{body}");
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(1),
            "the write has not reached the API after {:?}: {status} {body}",
            written.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = api.get("/readyz").await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("ok"))
    );
}

#[tokio::test]
async fn a_request_to_a_stuck_redis_answers_503_at_the_redis_timeout_instead_of_waiting() {
    let api = Api::start_with(|s| s.api.redis_timeout_ms = 250).await;
    // The API's copy of the prices is loaded (it holds ETH, not BTC).
    api.write(&[record("ETH", "3500", Utc::now())]).await;
    wait_served_from_copy(&api, "/v1/prices/ETH").await;
    // A script that keeps Redis busy for 3 s: every other client waits (below Redis's 5 s
    // script limit, after which it would answer BUSY errors instead of making them wait).
    let mut blocker = coinbeat_shared::redis_conn::connect(&api.settings.redis)
        .await
        .unwrap();
    tokio::spawn(async move {
        let busy = "local s = redis.call('TIME') repeat local n = redis.call('TIME') \
                    until (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 3000000 return 1";
        let _: redis::RedisResult<i64> = redis::cmd("EVAL")
            .arg(busy)
            .arg(0)
            .query_async(&mut blocker)
            .await;
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let (status, body) = api.get("/v1/prices/BTC").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "redis_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The API has its copy of the prices loaded: it serves on, degraded.
    let started = Instant::now();
    let (status, body) = api.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_api_starts_while_redis_is_down_and_recovers_when_it_returns() {
    let mut api = Api::start_with(|_| {}).await;
    api.redis.kill();
    let started = Instant::now();
    let (status, body) = api.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(started.elapsed() < HANG_BOUND);

    api.redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if api.get("/readyz").await.0 == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "readyz never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_the_error_shape() {
    let api = Api::start().await;

    let (status, body) = api.get("/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/nothing-here")
    );

    let response = api.http.delete(api.url("/v1/prices")).send().await.unwrap();
    let allow = response
        .headers()
        .get(header::ALLOW)
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_error(&body, "method_not_allowed");
    assert!(allow.expect("an Allow header").contains("GET"));

    let (status, body) = json(
        api.http
            .get(api.url("/v1/portfolio/value"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_error(&body, "method_not_allowed");
}

#[tokio::test]
async fn serve_returns_once_shutdown_is_cancelled() {
    let mut api = Api::start().await;
    assert_eq!(api.get("/healthz").await.0, StatusCode::OK);

    api.shutdown.cancel();
    let server = api.server.take().unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns after shutdown")
        .expect("serve did not panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(api.http.get(api.url("/healthz")).send().await.is_err());
}

#[tokio::test]
async fn health_is_404_until_a_report_exists_then_the_report_with_its_age() {
    use coinbeat_shared::{
        breaker::{BreakerSnapshot, BreakerState},
        cache::{HealthReport, RateLimitHealth, RedisHealth, Status, UpstreamHealth},
        keys::Keys,
        ratelimit::{LimiterMetrics, LimiterSnapshot},
        redis_conn,
    };
    let api = Api::start().await;
    let (status, body) = api.get("/v1/health").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "no_health_report");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"kind\": \"health\"")
    );

    // The limiter of a keyed provider is known by the key's fingerprint in the worker's
    // snapshot; the answer names it by its provider.
    const FINGERPRINT: &str = "k1a2b3c4d5e6f";
    let upstreams = vec![UpstreamHealth {
        name: "coingecko".into(),
        status: Status::Down,
        latency_ms: 3,
        error: Some("HTTP 503".into()),
        breaker: BreakerSnapshot {
            state: BreakerState::Open,
            failures: 5,
            ..BreakerSnapshot::default()
        },
        rate_limit: Some(RateLimitHealth {
            limit: "30/min".into(),
            snapshot: LimiterSnapshot {
                limiter: format!("coingecko:{FINGERPRINT}"),
                metrics: LimiterMetrics::default(),
                blocked_until: None,
                taken_at: chrono::Utc::now(),
            },
        }),
        probed_at: None,
    }];
    let redis = RedisHealth {
        status: Status::Up,
        latency_us: 80,
        used_memory_bytes: Some(1_000_000),
    };
    let report = HealthReport {
        status: HealthReport::overall(&upstreams, &redis, &[]),
        checked_at: chrono::Utc::now() - chrono::Duration::seconds(3),
        upstreams,
        redis,
        queues: Vec::new(),
    };
    assert_eq!(
        report.status,
        Status::Degraded,
        "one upstream down degrades"
    );
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    report.store(&conn, &keys, 60).await.unwrap();

    let (status, body) = api.get("/v1/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["upstreams"][0]["status"], "down");
    assert_eq!(body["upstreams"][0]["error"], "HTTP 503");
    assert_eq!(body["upstreams"][0]["breaker"]["state"], "open");
    assert_eq!(body["upstreams"][0]["breaker"]["failures"], 5);
    assert_eq!(body["upstreams"][0]["rate_limit"]["limiter"], "coingecko");
    assert!(!body.to_string().contains(FINGERPRINT), "{body}");
    assert!(body["age_seconds"].as_u64().unwrap() >= 3);
    // No DATABASE_URL: history comes from Redis alone, and the report says so.
    assert_eq!(body["history_storage"]["status"], "off", "{body}");
}

/// The stream-worker's shard states are read live into `/v1/health`: a healthy report is
/// degraded by a shard whose streams are both down, and up again once it streams.
#[tokio::test]
async fn health_lists_each_stream_shard_and_a_shard_off_binance_degrades_it() {
    use coinbeat_shared::{
        cache::{HealthReport, RedisHealth, Status},
        keys::Keys,
        redis_conn,
        stream_state::{Phase, ShardState},
    };
    let api = Api::start().await;
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    let redis = RedisHealth {
        status: Status::Up,
        latency_us: 80,
        used_memory_bytes: None,
    };
    HealthReport {
        status: Status::Up,
        checked_at: chrono::Utc::now(),
        upstreams: Vec::new(),
        redis,
        queues: Vec::new(),
    }
    .store(&conn, &keys, 60)
    .await
    .unwrap();
    let (_, body) = api.get("/v1/health").await;
    assert_eq!(body["status"], "up", "{body}");
    assert_eq!(
        body["streams"],
        serde_json::json!([]),
        "no stream-worker yet"
    );

    let now = chrono::Utc::now();
    let mut shard = ShardState {
        shard: 0,
        phase: Phase::Down,
        source: "none".into(),
        holder: "stream-host-42-abcdef".into(),
        symbols: 12,
        since: now,
        last_event_at: None,
        ticks: 0,
        reconnects: 7,
        malformed: 0,
        updated_at: now,
    };
    shard.store(&conn, &keys).await.unwrap();
    let (_, body) = api.get("/v1/health").await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["streams"][0]["phase"], "down");
    assert_eq!(body["streams"][0]["reconnects"], 7);

    shard.phase = Phase::Streaming;
    shard.source = "binance-ws".into();
    shard.store(&conn, &keys).await.unwrap();
    let (_, body) = api.get("/v1/health").await;
    assert_eq!(body["status"], "up", "{body}");
    assert_eq!(body["streams"][0]["source"], "binance-ws");
}
