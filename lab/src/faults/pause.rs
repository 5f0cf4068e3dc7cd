//! `faults pause`: a zombie worker. Two `price-worker` replicas and a simulator that takes
//! 1.5 s to answer; the replica holding a BTC price job is frozen with SIGSTOP right after its
//! request reached the upstream, the price moves on, and the process stays frozen for three
//! orphan windows. The other replica must re-run the job and write the newer price; when the
//! frozen one is resumed with SIGCONT, its late answer (to the older question) must not
//! overwrite that newer record, and the job must be done once.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use coinbeat_shared::{
    cache::PriceCache,
    domain::{CoinId, Symbol},
    jobs::{Job, PricesJob},
    queue::{EnqueueOptions, TaskId, TaskStatus, lookup_task},
};
use coinbeat_sim::{ControlRequest, Provider, SimConfig, SimHandle};

use super::{
    kill::{ORPHAN_WINDOW, worker_env},
    outcome::Outcome,
};
use crate::{
    args::FaultsArgs,
    bench::lab::{Lab, start_sim},
};
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// How long the simulator takes to answer CoinGecko requests.
const UPSTREAM_LATENCY: Duration = Duration::from_millis(1_500);

pub async fn run(_args: &FaultsArgs) -> anyhow::Result<Outcome> {
    let sim = start_sim(SimConfig::default()).await?;
    Lab::start().await?.run_beside(sim, scenario).await
}

async fn scenario(lab: &mut Lab, sim: &SimHandle) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new("pause");
    sim.control(&ControlRequest {
        provider: Some(Provider::CoinGecko),
        latency_ms: Some(UPSTREAM_LATENCY.as_millis() as u64),
        ..Default::default()
    })?;
    let mut env = worker_env(2);
    env.extend([
        ("COINBEAT_PROVIDERS__COINGECKO__BASE_URL", sim.base_url()),
        // The frozen replica must still read its answer when it wakes: that late answer is
        // what the scenario is about.
        ("COINBEAT_PROVIDERS__COINGECKO__TIMEOUT_MS", "60000".into()),
        ("COINBEAT_PROVIDERS__BINANCE__ENABLED", "false".into()),
    ]);
    for _ in 0..2 {
        lab.spawn(Component::Worker(QueueWorker::PriceWorker), &env)?;
    }
    let queue = PricesJob::queue();
    lab.wait_for_workers(&queue, 2).await?;

    let btc = Symbol::parse("BTC")?;
    let job = PricesJob {
        symbols: Some(vec![btc.clone()]),
        ids: None,
        tier: None,
    };
    let id = lab
        .producer()
        .enqueue(&job, EnqueueOptions::default())
        .await?;
    outcome.jobs = 1;
    let holder = wait_for_holder(lab, id).await?;
    wait_for_arrivals(sim, 1).await?;
    lab.signal(holder, "STOP")?;
    let frozen = Instant::now();
    println!("pause: froze pid {holder} holding task {id} with its request at the upstream");

    // The frozen replica's answer is served; then the price moves on.
    tokio::time::sleep(UPSTREAM_LATENCY + Duration::from_millis(300)).await;
    sim.control(&ControlRequest {
        advance_steps: Some(100),
        ..Default::default()
    })?;

    let cache = PriceCache::new(lab.conn.clone(), lab.keys.clone(), &lab.settings.prices);
    let bitcoin = CoinId::parse("bitcoin")?;
    let rerun = loop {
        if let Some(record) = cache.get(&bitcoin).await? {
            break record;
        }
        if frozen.elapsed() > ORPHAN_WINDOW * 3 {
            lab.signal(holder, "CONT")?;
            bail!("no replica re-ran the frozen worker's job within three orphan windows");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    outcome.recovery = Some(frozen.elapsed());

    tokio::time::sleep((ORPHAN_WINDOW * 3).saturating_sub(frozen.elapsed())).await;
    lab.signal(holder, "CONT")?;
    // The resumed replica reads its answer and tries to write it.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let last = cache
        .get(&bitcoin)
        .await?
        .context("the BTC record vanished")?;
    let task = lookup_task(&lab.conn, &lab.keys, &queue, id).await?;
    let asked = sim.arrivals(Provider::CoinGecko).len();
    let overwritten = last.fetched_at != rerun.fetched_at || last.usd != rerun.usd;
    outcome.lost = Some(u64::from(
        task.as_ref().is_none_or(|t| t.status != TaskStatus::Done),
    ));
    outcome.duplicated = Some(0);
    outcome.check(
        asked == 2,
        format!("{asked} upstream requests (the frozen one's and the re-run's)"),
    );
    outcome.check(
        task.as_ref().is_some_and(|t| t.status == TaskStatus::Done),
        format!(
            "the job is {}",
            task.as_ref().map_or("gone", |t| t.status.as_str())
        ),
    );
    outcome.check(
        !overwritten,
        format!(
            "re-run wrote {} at {}; after the zombie resumed the record is {} at {} \
             (stale overwrites: {})",
            rerun.usd,
            rerun.fetched_at.format("%H:%M:%S%.3f"),
            last.usd,
            last.fetched_at.format("%H:%M:%S%.3f"),
            u8::from(overwritten)
        ),
    );
    outcome.check(
        lab.all_running(),
        "every worker process is still running after the pause",
    );
    Ok(outcome)
}

/// The pid of the worker whose in-flight set holds task `id` (worker names end in
/// `-{pid}-{random}`).
async fn wait_for_holder(lab: &Lab, id: TaskId) -> anyhow::Result<u32> {
    let ns = lab.keys.queue(&PricesJob::queue());
    // The worker's name is what follows the prefix in its in-flight key.
    let prefix = ns.inflight("");
    let started = Instant::now();
    let mut conn = lab.conn.clone();
    loop {
        let sets: Vec<String> = redis::cmd("KEYS")
            .arg(ns.inflight_pattern())
            .query_async(&mut conn)
            .await?;
        for set in sets {
            let held: bool = redis::cmd("SISMEMBER")
                .arg(&set)
                .arg(id.to_string())
                .query_async(&mut conn)
                .await?;
            if held {
                let worker = &set[prefix.len()..];
                let pid = worker
                    .rsplit('-')
                    .nth(1)
                    .and_then(|p| p.parse().ok())
                    .with_context(|| format!("no pid in the worker name {worker}"))?;
                return Ok(pid);
            }
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("no worker took task {id} within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn wait_for_arrivals(sim: &SimHandle, n: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    while sim.arrivals(Provider::CoinGecko).len() < n {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("the upstream request did not arrive within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}
