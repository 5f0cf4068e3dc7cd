//! Injected faults over real HTTP: the rate limit, errors, outages, latency and API keys.

mod common;

use std::time::{Duration, Instant};

use coinbeat_sim::{ControlRequest, Faults, SimConfig, Stats};
use common::{get, sim_get, sim_post, start};
use serde_json::json;

const PING: &str = "/ping";
const RATE_LIMITED: &str = r#"{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits."}}"#;

fn with_faults(faults: Faults) -> SimConfig {
    SimConfig {
        step_ms: 0,
        faults,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn past_the_limit_requests_get_coingeckos_429_with_a_retry_after() {
    let sim = start(with_faults(Faults {
        rate_limit_per_minute: 3,
        ..Faults::default()
    }))
    .await;
    for _ in 0..3 {
        assert_eq!(get(&sim, PING, &[]).await.status(), 200);
    }

    let limited = get(&sim, PING, &[]).await;

    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["content-type"], "application/json");
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (55..=60).contains(&retry_after),
        "retry-after {retry_after}"
    );
    assert_eq!(limited.text().await.unwrap(), RATE_LIMITED);
    let stats: Stats = sim_get(&sim, "/sim/stats").await;
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.requests_total, 4);
}

#[tokio::test]
async fn errors_count_toward_the_limit_like_on_coingecko() {
    let faults = Faults {
        error_rate: 1.0,
        rate_limit_per_minute: 2,
        ..Faults::default()
    };
    let sim = start(with_faults(faults)).await;

    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(get(&sim, PING, &[]).await.status().as_u16());
    }

    assert_eq!(statuses, [503, 503, 429]);
}

#[tokio::test]
async fn an_error_rate_of_one_fails_every_request_with_a_5xx() {
    let sim = start(with_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    }))
    .await;

    for _ in 0..10 {
        let response = get(
            &sim,
            "/simple/price",
            &[("ids", "bitcoin"), ("vs_currencies", "usd")],
        )
        .await;
        assert!(
            response.status().is_server_error(),
            "got {}",
            response.status()
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"]["error_code"], 503);
    }
    assert_eq!(sim.stats().injected_errors, 10);
    assert_eq!(
        sim.stats().ids_requested,
        0,
        "failed requests never reach the handler"
    );
}

#[tokio::test]
async fn a_partial_error_rate_fails_some_requests_and_serves_the_rest() {
    let sim = start(with_faults(Faults {
        error_rate: 0.5,
        ..Faults::default()
    }))
    .await;

    let mut failed = 0;
    for _ in 0..40 {
        if get(&sim, PING, &[]).await.status() == 503 {
            failed += 1;
        }
    }

    assert!((8..=32).contains(&failed), "{failed} of 40 failed");
    assert_eq!(sim.stats().injected_errors, failed);
}

#[tokio::test]
async fn latency_delays_provider_requests() {
    let sim = start(with_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    }))
    .await;

    let started = Instant::now();
    let response = get(&sim, PING, &[]).await;

    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_sim_set_down_answers_503_until_it_is_up_again() {
    let sim = start(with_faults(Faults::default())).await;

    let down = sim_post(&sim, "/sim/control", json!({ "down": true })).await;
    assert_eq!(down.status(), 200);
    let while_down = get(&sim, PING, &[]).await.status();
    sim_post(&sim, "/sim/control", json!({ "down": false })).await;
    let after = get(&sim, PING, &[]).await.status();

    assert_eq!(while_down, 503);
    assert_eq!(after, 200);
    assert_eq!(sim.stats().down_rejections, 1);
}

#[tokio::test]
async fn control_changes_faults_and_rejects_invalid_ones() {
    let sim = start(with_faults(Faults::default())).await;

    let changed = sim_post(
        &sim,
        "/sim/control",
        json!({ "latency_ms": 5, "rate_limit_per_minute": 9 }),
    )
    .await;
    let bad_rate = sim_post(&sim, "/sim/control", json!({ "error_rate": 2.0 })).await;
    let unknown = sim_post(&sim, "/sim/control", json!({ "latency": 5 })).await;

    assert_eq!(changed.status(), 200);
    let faults: Faults = changed.json().await.unwrap();
    assert_eq!(
        faults,
        Faults {
            latency_ms: 5,
            rate_limit_per_minute: 9,
            ..Faults::default()
        }
    );
    assert_eq!(bad_rate.status(), 400);
    assert_eq!(unknown.status(), 400);
    assert_eq!(sim.faults(), faults, "a rejected change changes nothing");
    let error = sim.control(&ControlRequest {
        error_rate: Some(-0.1),
        ..Default::default()
    });
    assert!(error.is_err());
}

#[tokio::test]
async fn required_keys_are_checked_in_headers_and_queries_and_counted_by_kind() {
    let config = SimConfig {
        step_ms: 0,
        api_keys: vec!["k1".to_owned()],
        ..SimConfig::default()
    };
    let sim = start(config).await;
    let client = reqwest::Client::new();
    let ping = format!("{}/ping", sim.base_url());

    let missing = client.get(&ping).send().await.unwrap();
    let wrong = client
        .get(&ping)
        .header("x-cg-demo-api-key", "nope")
        .send()
        .await
        .unwrap();
    let demo_header = client
        .get(&ping)
        .header("x-cg-demo-api-key", "k1")
        .send()
        .await
        .unwrap();
    let pro_header = client
        .get(&ping)
        .header("x-cg-pro-api-key", "k1")
        .send()
        .await
        .unwrap();
    let demo_query = client
        .get(&ping)
        .query(&[("x_cg_demo_api_key", "k1")])
        .send()
        .await
        .unwrap();
    let pro_query = client
        .get(&ping)
        .query(&[("x_cg_pro_api_key", "k1")])
        .send()
        .await
        .unwrap();

    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.text().await.unwrap(),
        r#"{"status":{"error_code":10002,"error_message":"API Key Missing"}}"#
    );
    assert_eq!(wrong.status(), 401);
    for accepted in [demo_header, pro_header, demo_query, pro_query] {
        assert_eq!(accepted.status(), 200);
    }
    let stats = sim.stats();
    assert_eq!(stats.auth_failures, 2);
    let by_auth: Vec<(&str, u64)> = stats
        .by_auth
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        by_auth,
        [
            ("demo_header", 2),
            ("demo_query", 1),
            ("none", 1),
            ("pro_header", 1),
            ("pro_query", 1)
        ]
    );
}

#[tokio::test]
async fn a_per_second_limit_answers_past_it_and_every_arrival_is_logged() {
    let sim = start(with_faults(Faults::default())).await;
    let limit: Faults = sim_post(
        &sim,
        "/sim/control",
        json!({"provider": "coingecko", "calls_per_sec": 2}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(limit.coingecko.calls_per_sec, 2);
    let started = Instant::now();
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(get(&sim, PING, &[]).await.status().as_u16());
        }
        statuses
    };
    if started.elapsed() < Duration::from_millis(900) {
        assert_eq!(statuses, [200, 200, 429]);
    }
    let log: coinbeat_sim::ArrivalLog = sim_get(&sim, "/sim/arrivals?provider=coingecko").await;
    assert_eq!(log.arrivals_us.len(), 3, "refused requests arrived too");
    assert!(log.arrivals_us.is_sorted());
    let other: coinbeat_sim::ArrivalLog = sim_get(&sim, "/sim/arrivals?provider=binance").await;
    assert!(other.arrivals_us.is_empty());

    // Only with a provider: a per-second limit is one provider's.
    let response = sim_post(&sim, "/sim/control", json!({"calls_per_sec": 2})).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("provider"));
}

#[tokio::test]
async fn throttle_once_answers_the_next_request_with_that_retry_after_then_lets_the_rest_through() {
    let sim = start(with_faults(Faults::default())).await;
    let set = sim_post(
        &sim,
        "/sim/control",
        json!({"provider": "coingecko", "throttle_once_secs": 5}),
    )
    .await;
    assert_eq!(set.status(), 200);

    let limited = get(&sim, PING, &[]).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "5");
    assert_eq!(limited.text().await.unwrap(), RATE_LIMITED);
    assert_eq!(get(&sim, PING, &[]).await.status(), 200, "once only");
    let stats: Stats = sim_get(&sim, "/sim/stats").await;
    assert_eq!(stats.rate_limited, 1);

    assert_eq!(sim_post(&sim, "/sim/reset", json!({})).await.status(), 204);
    let log: coinbeat_sim::ArrivalLog = sim_get(&sim, "/sim/arrivals?provider=coingecko").await;
    assert!(log.arrivals_us.is_empty(), "reset forgets arrivals");
}
