//! `faults redis-aof` and `faults redis-ephemeral`: Redis crashes (SIGKILL) under a running
//! system and comes back two seconds later.
//!
//! - `redis-aof`: Redis with `appendonly yes` and `appendfsync always`; two `probe-worker`
//!   replicas and the API run while the suite enqueues a probe task every 10 ms and keeps the
//!   ids Redis acknowledged. Passes when every acknowledged task completes (none lost),
//!   duplicates stay within what the workers held (replicas × concurrency), every process
//!   resumes by itself, and the API answers 503 within 2 s (never a 500, never a hang) while
//!   Redis is away.
//! - `redis-ephemeral`: Redis with no persistence at all, the scheduler (prices every 5 s), a
//!   `price-worker` and the API against the simulator. While Redis is away the API answers BTC
//!   from its copy, marked `cache_unchecked`. After the crash Redis is empty; passes when every
//!   process resumes by itself and the API serves a BTC fetched after Redis's return, from
//!   Redis, within two schedule periods of that return.

use std::time::{Duration, Instant};

use anyhow::Context;
use coinbeat_shared::jobs::{Job, PricesJob, ProbeJob};
use coinbeat_sim::SimConfig;
use tokio::sync::watch;

use super::{
    kill::worker_env,
    ledger,
    outcome::Outcome,
    system::{Api, schedule_config, sim_env},
};
use crate::{
    args::FaultsArgs,
    bench::lab::{Lab, start_sim},
};
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// How long Redis stays away.
const OUTAGE: Duration = Duration::from_secs(2);

pub async fn run_aof(_args: &FaultsArgs) -> anyhow::Result<Outcome> {
    Lab::start_with_redis(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ])
    .await?
    .run(aof)
    .await
}

async fn aof(lab: &mut Lab) -> anyhow::Result<Outcome> {
    const REPLICAS: usize = 2;
    const CONCURRENCY: usize = 4;
    let mut outcome = Outcome::new("redis-aof");
    let (api, _) = Api::spawn(lab, &[]).await?;
    for _ in 0..REPLICAS {
        lab.spawn(
            Component::Worker(QueueWorker::ProbeWorker),
            &worker_env(CONCURRENCY),
        )?;
    }
    lab.wait_for_workers(&ProbeJob::queue(), REPLICAS as u64)
        .await?;

    // The producer: one task every 10 ms, keeping the ids Redis acknowledged.
    let (stop_tx, stop_rx) = watch::channel(false);
    let producer = lab.producer();
    let enqueuer = tokio::spawn(async move {
        let (mut acknowledged, mut refused) = (Vec::new(), 0u64);
        let mut seq = 0u64;
        while !*stop_rx.borrow() {
            let job = &ledger::probe_jobs(seq..seq + 1)[0];
            let sent = tokio::time::timeout(
                Duration::from_secs(1),
                producer.enqueue(job, Default::default()),
            )
            .await;
            match sent {
                Ok(Ok(_)) => acknowledged.push(seq),
                _ => refused += 1,
            }
            seq += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (acknowledged, refused)
    });

    tokio::time::sleep(Duration::from_secs(2)).await;
    lab.kill_redis().await;
    println!("redis-aof: redis killed");
    // While Redis is away the API must say so quickly: 503, never 500, never a hang.
    let outage = Instant::now();
    let (mut answers, mut slowest, mut wrong) = (0u64, Duration::ZERO, Vec::new());
    while outage.elapsed() < OUTAGE {
        let (read, read_took) = api.get("/v1/queues").await;
        let (write, _, write_took) = api.submit(&serde_json::json!({"kind": "health"})).await;
        for (status, took) in [(read, read_took), (write, write_took)] {
            answers += 1;
            slowest = slowest.max(took);
            if status != 503 {
                wrong.push(status);
            }
        }
    }
    lab.restart_redis().await?;
    let back = Instant::now();
    println!("redis-aof: redis restarted");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop_tx.send(true);
    let (acknowledged, refused) = enqueuer.await.context("the enqueuer panicked")?;

    let runs = ledger::wait_settled(lab, &acknowledged, Duration::from_secs(30)).await?;
    let recovery = back.elapsed();
    let tally = ledger::tally(&runs, acknowledged.iter().copied());
    outcome.jobs = acknowledged.len() as u64;
    outcome.lost = Some(tally.lost);
    outcome.duplicated = Some(tally.duplicated);
    outcome.recovery = Some(recovery);
    let allowed = (REPLICAS * CONCURRENCY) as u64;
    outcome.check(
        tally.lost == 0,
        format!(
            "{} of {} acknowledged enqueues lost ({refused} refused while Redis was away)",
            tally.lost,
            acknowledged.len()
        ),
    );
    outcome.check(
        tally.duplicated <= allowed,
        format!(
            "{} duplicated (≤ {allowed}: replicas × concurrency)",
            tally.duplicated
        ),
    );
    outcome.check(
        wrong.is_empty() && slowest <= Duration::from_secs(2),
        format!(
            "API during the outage: {answers} answers, all 503 unless listed {wrong:?}, \
             slowest {:.2} s",
            slowest.as_secs_f64()
        ),
    );
    let live = ledger::probe_stats(lab).await?.live_workers;
    outcome.check(
        lab.all_running() && live == REPLICAS as u64,
        format!("every process resumed by itself ({live} live workers)"),
    );
    Ok(outcome)
}

pub async fn run_ephemeral(_args: &FaultsArgs) -> anyhow::Result<Outcome> {
    let sim = start_sim(SimConfig::default()).await?;
    Lab::start_with_redis(&["--save", "", "--appendonly", "no"])
        .await?
        .run_beside(sim, ephemeral)
        .await
}

async fn ephemeral(lab: &mut Lab, sim: &coinbeat_sim::SimHandle) -> anyhow::Result<Outcome> {
    const PERIOD: Duration = Duration::from_secs(5);
    let mut outcome = Outcome::new("redis-ephemeral");
    let mut env = sim_env(sim);
    env.push(schedule_config(
        lab,
        &[("prices", "*/5 * * * * *", "prices")],
        "",
    )?);
    env.extend(worker_env(4));
    let (api, _) = Api::spawn(lab, &env).await?;
    lab.spawn(Component::Scheduler, &env)?;
    lab.spawn(Component::Worker(QueueWorker::PriceWorker), &env)?;
    lab.wait_for_workers(&PricesJob::queue(), 1).await?;
    wait_served(&api, Duration::from_secs(30))
        .await
        .context("BTC was never served before the crash")?;

    lab.kill_redis().await;
    println!("redis-ephemeral: redis killed");
    tokio::time::sleep(OUTAGE).await;
    let (during, _) = api.get("/v1/queues").await;
    // Price reads go on from the API's copy, marked as such.
    let from_memory = api.json("/v1/prices/BTC").await;
    lab.restart_redis().await?;
    let back = Instant::now();
    let back_at = chrono::Utc::now();
    println!("redis-ephemeral: redis restarted, empty");
    let refilled = wait_served(&api, PERIOD * 4).await.is_ok();
    let recovery = back.elapsed();
    // What is served must be a refill, fetched after Redis came back, not a leftover.
    let fetched_at = api
        .json("/v1/prices/BTC")
        .await
        .and_then(|record| record["fetched_at"].as_str().map(str::to_owned))
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok());
    outcome.jobs = 1;
    outcome.recovery = Some(recovery);
    outcome.check(
        during == 503,
        format!("API answered {during} to /v1/queues while Redis was away"),
    );
    outcome.check(
        from_memory
            .as_ref()
            .is_some_and(|price| price["cache_unchecked"] == true),
        format!(
            "API answered BTC from memory, marked, while Redis was away: {}",
            from_memory.map_or_else(|| "no 200".to_owned(), |p| p["cache_unchecked"].to_string())
        ),
    );
    outcome.check(
        refilled && recovery <= PERIOD * 2,
        format!(
            "BTC served again {:.1} s after Redis came back empty (≤ 2 periods of {} s)",
            recovery.as_secs_f64(),
            PERIOD.as_secs()
        ),
    );
    outcome.check(
        fetched_at.is_some_and(|at| at >= back_at - chrono::Duration::seconds(1)),
        format!(
            "the BTC served was fetched at {} (Redis back at {})",
            fetched_at.map_or_else(
                || "?".to_owned(),
                |at| at.format("%H:%M:%S%.3f").to_string()
            ),
            back_at.format("%H:%M:%S%.3f")
        ),
    );
    outcome.check(
        lab.all_running(),
        "scheduler, worker and API resumed by themselves",
    );
    Ok(outcome)
}

/// Waits until `GET /v1/prices/BTC` answers 200 from a Redis it could check (not the API's
/// copy as last known, `cache_unchecked`).
async fn wait_served(api: &Api, within: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let checked = api
            .json("/v1/prices/BTC")
            .await
            .is_some_and(|price| price["cache_unchecked"] == false);
        if checked {
            return Ok(());
        }
        if started.elapsed() > within {
            anyhow::bail!("BTC not served within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
