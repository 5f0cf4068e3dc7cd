//! The health worker against the simulator and a real, private redis-server: every configured
//! upstream is probed through its shared limiter and breaker (both shown); an upstream the
//! simulator stops turns `down` (and the whole report `degraded`), and `up` when it returns;
//! a queue with waiting tasks and no live worker is `down`.

#[path = "common/simulated.rs"]
mod simulated;

use coinbeat_shared::{
    breaker::BreakerState,
    cache::{HealthReport, Status},
    jobs::{HealthJob, MarketJob},
    queue::{EnqueueOptions, Producer},
};
use coinbeat_sim::{ControlRequest, SimConfig};
use coinbeat_workers::{boot::WorkerEnv, health::HealthWorker};
use simulated::{Upstream, simulated};

#[tokio::test]
async fn an_upstream_the_simulator_stops_is_down_and_up_again_when_it_returns() {
    let (_redis, sim, mut settings) = simulated(
        SimConfig::default(),
        &[Upstream::CoinGecko, Upstream::CoinLore, Upstream::Etherscan],
    )
    .await;
    settings.providers.binance.enabled = false;
    // Every run asks CoinGecko (the spacing has its own test).
    settings.health.coingecko_probe_secs = 0;
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    let (conn, keys) = (env.conn.clone(), env.keys.clone());
    let worker = HealthWorker::new(&env).unwrap();
    let coingecko = |report: &HealthReport| {
        report
            .upstreams
            .iter()
            .find(|u| u.name == "coingecko")
            .cloned()
            .unwrap()
    };

    worker.handle(HealthJob {}).await.unwrap();
    let report = HealthReport::load(&conn, &keys).await.unwrap().unwrap();
    assert_eq!(coingecko(&report).status, Status::Up, "{report:?}");
    assert_eq!(report.status, Status::Up, "{report:?}");
    // Every configured upstream (Binance is off here), each with its shared limiter and breaker.
    let names: Vec<&str> = report.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["coingecko", "coinlore", "etherscan"]);
    let cg = coingecko(&report);
    assert_eq!(cg.breaker.state, BreakerState::Closed);
    let limit = cg.rate_limit.expect("coingecko's limiter");
    assert_eq!(limit.limit, "30/min, 10000/month");
    assert_eq!(
        limit.snapshot.metrics.acquired, 1,
        "the probe took a permit"
    );
    assert_eq!(report.redis.status, Status::Up);
    assert!(report.redis.used_memory_bytes.unwrap() > 0);
    assert_eq!(report.queues.len(), 9);
    assert!(
        report.queues.iter().any(|q| q.queue == "alerts"),
        "{report:?}"
    );

    sim.control(&ControlRequest {
        down: Some(true),
        ..Default::default()
    })
    .unwrap();
    // A market task waits with no market worker alive: that queue is down too.
    Producer::new(conn.clone(), keys.clone(), settings.queues.clone())
        .enqueue(
            &MarketJob {
                limit: 10,
                supply: true,
            },
            EnqueueOptions::default(),
        )
        .await
        .unwrap();
    worker.handle(HealthJob {}).await.unwrap();
    let report = HealthReport::load(&conn, &keys).await.unwrap().unwrap();
    let cg = coingecko(&report);
    assert_eq!(cg.status, Status::Down, "{report:?}");
    assert!(cg.error.unwrap().contains("503"));
    assert!(cg.breaker.failures > 0, "{report:?}");
    assert!(
        report.upstreams.iter().all(|u| u.status == Status::Down),
        "{report:?}"
    );
    let market = report.queues.iter().find(|q| q.queue == "market").unwrap();
    assert_eq!((market.status, market.waiting), (Status::Down, 1));
    assert_eq!(
        report.status,
        Status::Degraded,
        "Redis is up, so degraded, not down"
    );

    sim.control(&ControlRequest {
        down: Some(false),
        ..Default::default()
    })
    .unwrap();
    worker.handle(HealthJob {}).await.unwrap();
    let report = HealthReport::load(&conn, &keys).await.unwrap().unwrap();
    assert!(
        report.upstreams.iter().all(|u| u.status == Status::Up),
        "{report:?}"
    );
    assert_eq!(
        coingecko(&report).breaker.failures,
        0,
        "a success resets the count"
    );
}

#[tokio::test]
async fn coingecko_is_probed_hourly_unless_a_call_to_it_failed_since() {
    let (_redis, sim, mut settings) = simulated(
        SimConfig::default(),
        &[Upstream::CoinGecko, Upstream::CoinLore],
    )
    .await;
    settings.providers.binance.enabled = false;
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    let (conn, keys) = (env.conn.clone(), env.keys.clone());
    let worker = HealthWorker::new(&env).unwrap();
    let pings = || {
        sim.stats()
            .by_endpoint
            .get("/api/v3/ping")
            .copied()
            .unwrap_or_default()
    };
    let coingecko = |report: &HealthReport| {
        report
            .upstreams
            .iter()
            .find(|u| u.name == "coingecko")
            .cloned()
            .unwrap()
    };

    worker.handle(HealthJob {}).await.unwrap();
    let first = HealthReport::load(&conn, &keys).await.unwrap().unwrap();
    let probed_at = coingecko(&first).probed_at.expect("probed");
    assert_eq!(pings(), 1);
    // Within the hour the answer stands, with when it was asked; the others are asked again.
    worker.handle(HealthJob {}).await.unwrap();
    let second = HealthReport::load(&conn, &keys).await.unwrap().unwrap();
    assert_eq!(pings(), 1, "asked once an hour");
    assert_eq!(coingecko(&second).probed_at, Some(probed_at));
    assert_eq!(coingecko(&second).status, Status::Up);
    assert!(second.checked_at > first.checked_at);
    let coinlore = |r: &HealthReport| r.upstreams.iter().find(|u| u.name == "coinlore").cloned();
    assert!(coinlore(&second).unwrap().probed_at > coinlore(&first).unwrap().probed_at);

    // CoinGecko goes down and a price job's call fails: the next run asks at once.
    sim.control(&ControlRequest {
        provider: Some(coinbeat_sim::Provider::CoinGecko),
        down: Some(true),
        ..Default::default()
    })
    .unwrap();
    let prices = coinbeat_workers::prices::PriceWorker::new(&env).unwrap();
    assert!(prices.handle(Default::default()).await.is_err());
    worker.handle(HealthJob {}).await.unwrap();
    let third = HealthReport::load(&conn, &keys).await.unwrap().unwrap();
    assert!(
        pings() >= 2,
        "asked again (its retries count too): {third:?}"
    );
    assert_eq!(coingecko(&third).status, Status::Down, "{third:?}");
    assert!(coingecko(&third).probed_at > Some(probed_at));
}
