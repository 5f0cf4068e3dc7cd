//! The `/sim/` routes over real HTTP: served prices, counters and reset.

mod common;

use coinbeat_sim::{Faults, Served, SimConfig, Stats};
use common::{frozen_sim, get, prices, sim_get, sim_post, start};
use serde_json::json;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn served_holds_exactly_the_usd_text_each_response_carried() {
    let sim = frozen_sim(3).await;
    let before = now_ms();

    let body = prices(
        &sim,
        &[
            ("ids", "bitcoin,pepe,tether"),
            ("vs_currencies", "usd,eur"),
            ("precision", "full"),
        ],
    )
    .await;
    let served: Served = sim_get(&sim, "/sim/served").await;

    assert_eq!(served.coingecko.len(), 3);
    for (id, fields) in &body {
        let entry = &served.coingecko[id];
        assert_eq!(entry.usd, fields["usd"].get(), "served text of {id}");
        assert!((before..=now_ms()).contains(&entry.served_at_ms));
    }
    assert_eq!(sim.served(), served);
}

#[tokio::test]
async fn served_keeps_the_last_text_when_prices_move() {
    let sim = frozen_sim(3).await;
    let query = [
        ("ids", "ethereum"),
        ("vs_currencies", "usd"),
        ("precision", "full"),
    ];
    let first = prices(&sim, &query).await;
    sim_post(&sim, "/sim/control", json!({ "advance_steps": 10 })).await;

    let second = prices(&sim, &query).await;

    assert_ne!(
        first["ethereum"]["usd"].get(),
        second["ethereum"]["usd"].get()
    );
    assert_eq!(
        sim.served().coingecko["ethereum"].usd,
        second["ethereum"]["usd"].get()
    );
}

#[tokio::test]
async fn stats_count_provider_requests_per_endpoint_but_not_sim_routes() {
    let sim = frozen_sim(3).await;

    get(&sim, "/ping", &[]).await;
    prices(
        &sim,
        &[("ids", "bitcoin,bitcoin,nope"), ("vs_currencies", "usd")],
    )
    .await;
    prices(&sim, &[("ids", "ethereum"), ("vs_currencies", "usd")]).await;
    let _: Served = sim_get(&sim, "/sim/served").await;
    let stats: Stats = sim_get(&sim, "/sim/stats").await;

    assert_eq!(stats.requests_total, 3);
    assert_eq!(stats.by_endpoint["/api/v3/ping"], 1);
    assert_eq!(stats.by_endpoint["/api/v3/simple/price"], 2);
    assert_eq!(stats.by_endpoint.len(), 2);
    assert_eq!(stats.by_auth["none"], 3);
    assert_eq!(
        stats.ids_requested, 3,
        "duplicates count once, unknown ids count"
    );
    assert_eq!(
        (
            stats.rate_limited,
            stats.injected_errors,
            stats.auth_failures
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn reset_zeroes_the_counters_and_frees_the_rate_limit_window() {
    let faults = Faults {
        rate_limit_per_minute: 1,
        ..Faults::default()
    };
    let sim = start(SimConfig {
        step_ms: 0,
        faults,
        ..SimConfig::default()
    })
    .await;
    get(&sim, "/ping", &[]).await;
    assert_eq!(get(&sim, "/ping", &[]).await.status(), 429);

    let reset = sim_post(&sim, "/sim/reset", json!({})).await;

    assert_eq!(reset.status(), 204);
    assert_eq!(sim_get::<Stats>(&sim, "/sim/stats").await, Stats::default());
    assert_eq!(get(&sim, "/ping", &[]).await.status(), 200);
}
