//! `faults soak`: the whole system for `--soak-secs` on shortened schedules (prices and health
//! every 2 s, markets every 5 s, cleanup every 10 s with a 10 s retention of finished tasks)
//! plus 50 probe tasks a second, against the simulator. Every 5 s it samples Redis's key count
//! and memory and each process's resident memory. After a warm-up (the first quarter), the
//! later half of the samples must not rise more than 10 % (plus a small constant) above the
//! earlier half: keys, memory and RSS level off instead of growing. Every probe task must
//! finish.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use coinbeat_shared::jobs::{Job, PricesJob, ProbeJob};
use coinbeat_sim::SimConfig;
use tokio::sync::watch;

use super::{
    ledger,
    outcome::Outcome,
    system::{Api, schedule_config, sim_env},
};
use crate::{
    args::FaultsArgs,
    bench::{
        lab::{Lab, start_sim},
        machine::rss_kib,
    },
};
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

const SAMPLE_EVERY: Duration = Duration::from_secs(5);
const PROBES_PER_SEC: u64 = 50;

pub async fn run(args: &FaultsArgs) -> anyhow::Result<Outcome> {
    let sim = start_sim(SimConfig::default()).await?;
    Lab::start()
        .await?
        .run_beside(sim, async |lab, sim| scenario(args, lab, sim).await)
        .await
}

/// One sample: Redis keys, Redis memory (bytes), and RSS (KiB) per process.
struct Sample {
    keys: u64,
    memory: u64,
    rss: BTreeMap<String, u64>,
}

async fn scenario(
    args: &FaultsArgs,
    lab: &mut Lab,
    sim: &coinbeat_sim::SimHandle,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new("soak");
    let mut env = sim_env(sim);
    env.push(schedule_config(
        lab,
        &[
            ("prices", "*/2 * * * * *", "prices"),
            ("health", "1/2 * * * * *", "health"),
            ("market", "*/5 * * * * *", "market"),
            ("cleanup", "*/10 * * * * *", "cleanup"),
        ],
        "",
    )?);
    env.push((
        "COINBEAT_QUEUES__DEFAULTS__FINISHED_RETENTION_SECS",
        "10".into(),
    ));
    let (_api, api_pid) = Api::spawn(lab, &env).await?;
    let mut pids = vec![(Component::Api.name().to_owned(), api_pid)];
    for component in [
        Component::Scheduler,
        Component::Worker(QueueWorker::PriceWorker),
        Component::Worker(QueueWorker::MarketWorker),
        Component::Worker(QueueWorker::HealthWorker),
        Component::Worker(QueueWorker::CleanupWorker),
        Component::Worker(QueueWorker::ProbeWorker),
    ] {
        pids.push((component.name().to_owned(), lab.spawn(component, &env)?));
    }
    lab.wait_for_workers(&PricesJob::queue(), 1).await?;
    lab.wait_for_workers(&ProbeJob::queue(), 1).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let producer = lab.producer();
    let enqueuer = tokio::spawn(async move {
        let mut sent = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(1_000 / PROBES_PER_SEC));
        while !*stop_rx.borrow() {
            tick.tick().await;
            let job = ProbeJob {
                seq: sent,
                sleep_ms: 5,
                ..ProbeJob::default()
            };
            if producer.enqueue(&job, Default::default()).await.is_ok() {
                sent += 1;
            }
        }
        sent
    });

    let total = Duration::from_secs(args.soak_secs.max(20));
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < total {
        tokio::time::sleep(SAMPLE_EVERY).await;
        let sample = sample(lab, &pids).await?;
        println!(
            "soak {:>4.0} s: {} keys, {:.1} MiB in Redis, RSS {}",
            started.elapsed().as_secs_f64(),
            sample.keys,
            sample.memory as f64 / 1_048_576.0,
            sample
                .rss
                .iter()
                .map(|(name, kib)| format!("{name} {:.1}", *kib as f64 / 1024.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
        samples.push(sample);
    }
    let _ = stop_tx.send(true);
    let sent = enqueuer.await.context("the enqueuer panicked")?;
    let settle = Instant::now();
    let mut stats = ledger::probe_stats(lab).await?;
    while !ledger::idle(&stats) && settle.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stats = ledger::probe_stats(lab).await?;
    }
    let left = stats.waiting + stats.in_flight + stats.scheduled_due + stats.scheduled_future;
    outcome.jobs = sent;
    outcome.lost = Some(left);
    outcome.check(
        left == 0 && stats.dead == 0,
        format!("{left} probe tasks unfinished, {} dead", stats.dead),
    );

    let warm = samples.len() / 4;
    let rest = &samples[warm..];
    let (early, late) = rest.split_at(rest.len() / 2);
    let peak = |part: &[Sample], f: &dyn Fn(&Sample) -> u64| part.iter().map(f).max().unwrap_or(0);
    let levels = |what: &str, f: &dyn Fn(&Sample) -> u64, slack: u64, unit: &str| {
        let (a, b) = (peak(early, f), peak(late, f));
        (
            b <= a + a / 10 + slack,
            format!("{what}: peak {a}{unit} then {b}{unit}"),
        )
    };
    let (held, note) = levels("Redis keys", &|s| s.keys, 100, "");
    outcome.check(held, note);
    let (held, note) = levels("Redis memory", &|s| s.memory / 1024, 512, " KiB");
    outcome.check(held, note);
    for (name, _) in &pids {
        let (held, note) = levels(
            &format!("{name} RSS"),
            &|s| s.rss.get(name).copied().unwrap_or(0),
            1024,
            " KiB",
        );
        outcome.check(held, note);
    }
    outcome.check(lab.all_running(), "no process exited");
    Ok(outcome)
}

async fn sample(lab: &Lab, pids: &[(String, u32)]) -> anyhow::Result<Sample> {
    let mut conn = lab.conn.clone();
    let keys: u64 = redis::cmd("DBSIZE").query_async(&mut conn).await?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await?;
    let memory = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let rss = pids
        .iter()
        .map(|(name, pid)| (name.clone(), rss_kib(*pid).map_or(0, |(now, _)| now)))
        .collect();
    Ok(Sample { keys, memory, rss })
}
