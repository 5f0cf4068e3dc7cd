//! `GET /metrics`: request counters and durations by route template, and the gauges read from
//! Redis at scrape time (queues, limiters, breakers), in the text format a Prometheus scraper
//! reads; still 200 while Redis is down.

use std::time::{Duration, Instant};

use coinbeat_shared::{
    breaker::Breaker,
    keys::Keys,
    ratelimit::{Limiter, Provider, RateSpec},
    redis_conn,
    testing::Exposition,
};
use reqwest::{StatusCode, header};
use serde_json::json;

use coinbeat_shared::metrics::redis_gauges::READING_TTL;

use crate::support::{Api, READ_KEY, command_calls};

/// See `service.rs`: bounds a hang on a dead Redis, not speed.
const HANG_BOUND: Duration = Duration::from_secs(3);

async fn scrape(api: &Api) -> Exposition {
    let response = api
        .http
        .get(api.url("/metrics"))
        .bearer_auth(READ_KEY)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    Exposition::parse(&response.text().await.expect("body"))
}

#[tokio::test]
async fn requests_are_counted_and_timed_by_route_template_method_and_status() {
    let api = Api::start().await;
    for symbol in ["WLD", "BTC", "ETH"] {
        assert_eq!(
            api.get(&format!("/v1/prices/{symbol}")).await.0,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        api.get("/v1/prices/not-a-symbol!").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Two different jobs, so the second is not deduplicated into the first (which would be
    // answered 200).
    for kind in ["health", "cleanup"] {
        let body = json!({"kind": kind});
        let r = api.post("/v1/tasks", &body).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(api.get("/no/such/route/1").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/no/such/route/2").await.0, StatusCode::NOT_FOUND);

    let m = scrape(&api).await;

    let requests = "coinbeat_http_requests_total";
    assert_eq!(m.type_of(requests), Some("counter"));
    let prices = [("route", "/v1/prices/{coin}"), ("method", "GET")];
    assert_eq!(
        m.get(requests, &[prices[0], prices[1], ("status", "404")]),
        3.0
    );
    assert_eq!(
        m.get(requests, &[prices[0], prices[1], ("status", "422")]),
        1.0
    );
    let tasks = [
        ("route", "/v1/tasks"),
        ("method", "POST"),
        ("status", "202"),
    ];
    assert_eq!(m.get(requests, &tasks), 2.0);
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    assert_eq!(
        m.get(requests, &unmatched),
        2.0,
        "one series for every unknown path"
    );
    assert!(
        m.series(requests)
            .iter()
            .all(|s| !s.labels["route"].starts_with("/no/")),
        "a raw path never becomes a label:\n{}",
        m.text
    );

    let duration = "coinbeat_http_request_duration_seconds";
    assert_eq!(m.type_of(duration), Some("histogram"));
    assert_eq!(m.get(&format!("{duration}_count"), &tasks), 2.0);
    let sum = m.get(&format!("{duration}_sum"), &tasks);
    assert!(sum > 0.0 && sum < 10.0, "two requests took {sum} s");
    let mut inf = tasks.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(m.get(&format!("{duration}_bucket"), &inf), 2.0);

    // The two tasks wait in their queues (no worker runs).
    assert_eq!(m.get("coinbeat_redis_up", &[]), 1.0);
    let health = ("queue", "health");
    assert_eq!(
        m.get("coinbeat_queue_tasks", &[health, ("state", "waiting")]),
        1.0
    );
    assert_eq!(
        m.get(
            "coinbeat_queue_tasks",
            &[("queue", "cleanup"), ("state", "waiting")]
        ),
        1.0
    );
    for state in ["delayed", "in_flight", "dead"] {
        assert_eq!(
            m.get("coinbeat_queue_tasks", &[health, ("state", state)]),
            0.0
        );
    }
    assert_eq!(
        m.get(
            "coinbeat_queue_tasks",
            &[("queue", "prices"), ("state", "waiting")]
        ),
        0.0
    );
    let age = m.get("coinbeat_queue_oldest_waiting_seconds", &[health]);
    assert!((0.0..60.0).contains(&age), "{age}");
    assert_eq!(
        m.get(
            "coinbeat_queue_oldest_waiting_seconds",
            &[("queue", "wallet")]
        ),
        0.0
    );
}

#[tokio::test]
async fn limiter_counters_and_breaker_state_per_provider_are_read_from_redis_at_scrape_time() {
    let api = Api::start_with(|s| {
        s.upstream.breaker_failures = 2;
        s.upstream.breaker_probe_ms = 60_000;
    })
    .await;
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    // What a worker's gate does: three permits from CoinGecko's limiter, a push-back; two
    // failures that open Binance's breaker.
    let limiter = Limiter::new(
        conn.clone(),
        &keys,
        api.settings.providers.limiter_id(Provider::CoinGecko),
        RateSpec::parse("100/s").unwrap(),
    );
    for _ in 0..3 {
        limiter.acquire(1, Duration::from_secs(1)).await.unwrap();
    }
    limiter.push_back(Duration::from_secs(30)).await.unwrap();
    let breaker = Breaker::new(conn, &keys, Provider::Binance, &api.settings.upstream);
    breaker.record(false).await.unwrap();
    breaker.record(false).await.unwrap();

    let m = scrape(&api).await;

    let coingecko = [("provider", "coingecko")];
    assert_eq!(m.type_of("coinbeat_limiter_permits_total"), Some("counter"));
    assert_eq!(
        m.get("coinbeat_limiter_acquisitions_total", &coingecko),
        3.0
    );
    assert_eq!(m.get("coinbeat_limiter_permits_total", &coingecko), 3.0);
    assert_eq!(m.get("coinbeat_limiter_waits_total", &coingecko), 0.0);
    assert_eq!(m.get("coinbeat_limiter_denials_total", &coingecko), 0.0);
    assert_eq!(m.get("coinbeat_limiter_push_backs_total", &coingecko), 1.0);
    let blocked = m.get("coinbeat_limiter_blocked_seconds", &coingecko);
    assert!(blocked > 25.0 && blocked <= 30.0, "{blocked}");
    assert_eq!(
        m.get(
            "coinbeat_limiter_permits_total",
            &[("provider", "etherscan")]
        ),
        0.0
    );

    let binance = ("provider", "binance");
    assert_eq!(m.get("coinbeat_breaker_state", &[binance]), 2.0, "open");
    assert_eq!(
        m.get("coinbeat_breaker_state", &[("provider", "coingecko")]),
        0.0
    );
    assert_eq!(
        m.get(
            "coinbeat_breaker_transitions_total",
            &[binance, ("to", "open")]
        ),
        1.0
    );
    assert_eq!(
        m.get(
            "coinbeat_breaker_transitions_total",
            &[binance, ("to", "closed")]
        ),
        0.0
    );
}

#[tokio::test]
async fn scrapes_in_a_burst_cost_redis_one_reading() {
    let api = Api::start().await;
    let pings = || command_calls(&api, "ping");
    scrape(&api).await;
    let before = pings().await;
    let burst = (0..20).map(|_| scrape(&api));
    futures::future::join_all(burst).await;
    assert_eq!(
        pings().await - before,
        0,
        "20 scrapes within {READING_TTL:?} of the first are served from its reading"
    );
    tokio::time::sleep(READING_TTL).await;
    scrape(&api).await;
    assert_eq!(pings().await - before, 1, "a later scrape reads again");
}

#[tokio::test]
async fn with_redis_stopped_the_scrape_still_answers_200_with_redis_up_0_within_the_timeout() {
    let mut api = Api::start_with(|s| s.api.redis_timeout_ms = 300).await;
    assert_eq!(scrape(&api).await.get("coinbeat_redis_up", &[]), 1.0);

    api.redis.kill();
    // Scrapes within the reading's lifetime are answered from it (the next test); this one
    // comes after it.
    tokio::time::sleep(READING_TTL).await;

    let started = Instant::now();
    let m = scrape(&api).await;
    assert!(
        started.elapsed() < HANG_BOUND,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(m.get("coinbeat_redis_up", &[]), 0.0);
    assert!(m.series("coinbeat_queue_tasks").is_empty(), "{}", m.text);
    assert!(m.series("coinbeat_breaker_state").is_empty(), "{}", m.text);
    // What the process knows by itself is still there: the first scrape was counted.
    let first = [("route", "/metrics"), ("method", "GET"), ("status", "200")];
    assert_eq!(m.get("coinbeat_http_requests_total", &first), 1.0);
}
