//! The history backfill against the simulator's CoinGecko (`/coins/{id}/market_chart/range`,
//! its rate limit enforced), a real, private redis-server and a PostgreSQL database of its own:
//! a year of hourly points per coin under the limit with no refusal, and a backfill stopped
//! halfway resumes after its last stored chunk without fetching it again.

#[path = "common/simulated.rs"]
mod simulated;
#[path = "common/worker_process.rs"]
mod worker_process;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use coinbeat_history::testing::TestPostgres;
use coinbeat_shared::{
    domain::CoinId,
    jobs::{BackfillJob, HistoryJob},
    settings::Secret,
};
use coinbeat_sim::{SimConfig, SimHandle};
use coinbeat_workers::{boot::WorkerEnv, history::HistoryWorker};
use simulated::{Upstream, simulated};
use worker_process::WorkerProcess;

const ENDPOINT: &str = "/api/v3/coins/{id}/market_chart/range";

fn served(sim: &SimHandle) -> u64 {
    let stats = sim.stats();
    stats.by_endpoint.get(ENDPOINT).copied().unwrap_or(0) - stats.down_rejections
}

fn backfill(coin: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> HistoryJob {
    HistoryJob::Backfill(BackfillJob {
        coin: CoinId::parse(coin).unwrap(),
        from,
        to,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_per_coin_under_the_limit_and_a_stopped_backfill_resumes_without_refetching() {
    let mut config = SimConfig::default();
    config.faults.coingecko.calls_per_sec = 10;
    let (_redis, sim, mut settings) = simulated(config, &[Upstream::CoinGecko]).await;
    settings.providers.coingecko.rate_limit = "10/s".into();
    let pg = TestPostgres::start().await;
    settings.history.database_url = Some(Secret::new(pg.url()));
    let env = WorkerEnv::connect(settings).await.unwrap();
    let worker = HistoryWorker::new(&env).await.unwrap();
    let store = pg.store();

    // A year, hour by hour: 8,760 points in 5 requests of up to 90 days.
    let from: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2025-12-31T23:00:00Z".parse().unwrap();
    let coins = ["bitcoin", "ethereum", "solana"];
    let results =
        futures::future::join_all(coins.map(|coin| worker.handle(backfill(coin, from, to)))).await;
    for (coin, result) in coins.iter().zip(results) {
        let result = result.unwrap().unwrap();
        assert_eq!(result["requests"], 5, "{coin}: {result}");
        assert_eq!(result["points"], 8_760, "{coin}: {result}");
        assert_eq!(store.count(coin, from, to).await.unwrap(), 8_760);
    }
    assert_eq!(served(&sim), 15);
    assert_eq!(
        sim.stats().rate_limited,
        0,
        "the limiter kept under the limit"
    );
    // Asked again (a re-delivered task): nothing left to fetch.
    let again = worker
        .handle(backfill("bitcoin", from, to))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again["requests"], 0, "{again}");
    assert_eq!(served(&sim), 15);

    // Three years, 13 requests, stopped once some chunks are stored (the task dropped in the
    // middle, as a killed worker's would be), then run again.
    let (from, to) = (
        "2021-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        "2023-12-31T23:00:00Z".parse::<DateTime<Utc>>().unwrap(),
    );
    let before = served(&sim);
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.handle(backfill("litecoin", from, to)).await }
    });
    let started = std::time::Instant::now();
    let stored_at_stop = loop {
        let progress = store.backfill_progress("litecoin", from, to).await.unwrap();
        if progress.done_until >= from + TimeDelta::days(180) {
            running.abort();
            let _ = running.await;
            break store.backfill_progress("litecoin", from, to).await.unwrap();
        }
        if running.is_finished() {
            panic!("it ended before it was stopped: {:?}", running.await);
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(stored_at_stop.done_until <= to, "stopped before the end");
    let chunks_stored = (stored_at_stop.done_until - from).num_days() / 90;
    let result = worker
        .handle(backfill("litecoin", from, to))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        result["resumed_from"],
        serde_json::to_value(stored_at_stop.done_until).unwrap()
    );
    assert_eq!(result["requests"], 13 - chunks_stored, "{result}");
    let hours = (to - from).num_hours() + 1;
    assert_eq!(
        store.count("litecoin", from, to).await.unwrap(),
        hours as u64
    );
    // Each stored chunk was fetched once; at most the one in flight when it stopped twice.
    let fetched = served(&sim) - before;
    assert!(
        (13..=14).contains(&fetched),
        "{fetched} requests for 13 chunks"
    );
    assert_eq!(sim.stats().rate_limited, 0);
}

/// The acceptance run: a year for each of 100 coins, one task per coin, against the
/// simulator's limit (25 calls a second, enforced, and the worker's limit the same) with the
/// `history-worker` binary as a real process at the history queue's built-in settings, SIGKILLed once about half of it is stored and started again. Every coin ends with
/// its 8,760 hourly points, no call is refused, and no stored chunk is fetched again: at most
/// the chunks in flight at the kill are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_coins_a_year_each_killed_halfway_completes_without_refetching() {
    use coinbeat_shared::{
        jobs::Job,
        queue::{EnqueueOptions, queue_stats},
        testing::producer,
    };

    const COINS: usize = 100;
    const CHUNKS_PER_COIN: u64 = 5;
    let mut config = SimConfig {
        extra_coins: 200,
        ..SimConfig::default()
    };
    config.faults.coingecko.calls_per_sec = 25;
    let (_redis, sim, mut settings) = simulated(config, &[Upstream::CoinGecko]).await;
    let pg = TestPostgres::start().await;
    settings.history.database_url = Some(Secret::new(pg.url()));
    let ids: Vec<String> = reqwest::get(format!("{}/coins/list", sim.base_url()))
        .await
        .unwrap()
        .json::<Vec<serde_json::Value>>()
        .await
        .unwrap()
        .iter()
        .take(COINS)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), COINS);
    // The listing is the test's own call: out of the counters and the limit's window.
    sim.reset();
    let (conn, keys, producer) = producer(&settings).await;
    let from: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2025-12-31T23:00:00Z".parse().unwrap();
    for id in &ids {
        producer
            .enqueue(&backfill(id, from, to), EnqueueOptions::default())
            .await
            .unwrap();
    }
    let env = [
        ("DATABASE_URL", pg.url().to_owned()),
        (
            "COINBEAT_PROVIDERS__COINGECKO__BASE_URL",
            settings.providers.coingecko.base_url.clone(),
        ),
        ("COINBEAT_PROVIDERS__COINGECKO__RATE_LIMIT", "25/s".into()),
        ("COINBEAT_QUEUES__DEFAULTS__HEARTBEAT_SECS", "1".into()),
        ("COINBEAT_QUEUES__DEFAULTS__ORPHAN_AFTER_SECS", "3".into()),
    ];
    let binary = env!("CARGO_BIN_EXE_history-worker");
    let store = pg.store();
    let total = |store: coinbeat_history::HistoryStore, ids: Vec<String>| async move {
        let mut n = 0;
        for id in &ids {
            n += store.count(id, from, to).await.unwrap();
        }
        n
    };
    let mut first = WorkerProcess::spawn(binary, &settings, &env);
    let started = std::time::Instant::now();
    let want = (COINS * 8_760) as u64;
    loop {
        let stored = total(store.clone(), ids.clone()).await;
        if stored >= want / 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "only {stored} of {want} points stored; worker log:\n{}",
            first.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill9();
    let served_at_kill = served(&sim);
    let second = WorkerProcess::spawn(binary, &settings, &env);
    let queue = HistoryJob::queue();
    let queue_settings = settings.queues.for_queue(&queue);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let stats = queue_stats(&conn, &keys, &queue, &queue_settings)
            .await
            .unwrap();
        if stats.done == COINS as u64 {
            break;
        }
        assert_eq!(stats.dead, 0, "{stats:?}\n{}", second.log());
        assert!(
            std::time::Instant::now() < deadline,
            "not done: {stats:?}; worker log:\n{}",
            second.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in &ids {
        assert_eq!(store.count(id, from, to).await.unwrap(), 8_760, "{id}");
    }
    let stats = sim.stats();
    assert_eq!(stats.rate_limited, 0, "a call was refused: {stats:?}");
    let fetched = served(&sim);
    let chunks = COINS as u64 * CHUNKS_PER_COIN;
    // The history queue's built-in concurrency: the tasks the killed worker ran.
    let in_flight = queue_settings.concurrency as u64;
    assert!(
        (chunks..=chunks + in_flight).contains(&fetched),
        "{fetched} calls for {chunks} chunks ({served_at_kill} before the kill)"
    );
}
