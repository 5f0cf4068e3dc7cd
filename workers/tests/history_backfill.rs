//! The history backfill against the simulator's CoinGecko (`/coins/{id}/market_chart/range`,
//! its rate limit enforced), a real, private redis-server and a PostgreSQL database of its own:
//! a year of hourly points per coin under the limit with no refusal, and a backfill stopped
//! halfway resumes after its last stored chunk without fetching it again.

#[path = "common/simulated.rs"]
mod simulated;

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
