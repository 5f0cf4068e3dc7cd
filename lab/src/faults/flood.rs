//! `faults flood`: 32 clients send on-demand price jobs to the API as fast as it answers for
//! 10 s, into a `prices` queue capped at 500 with no worker draining it, while the scheduler
//! runs health checks every 2 s and a `health-worker` serves them. Passes when every refusal
//! is a 429 with `Retry-After`, nothing answers 5xx, the queue never holds more than its cap,
//! and the health report stays fresh throughout (health checks still run on time).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use coinbeat_shared::jobs::{HealthJob, Job, PricesJob};
use coinbeat_sim::SimConfig;

use super::{
    outcome::Outcome,
    system::{Api, schedule_config, sim_env},
};
use crate::{
    args::FaultsArgs,
    bench::lab::{Lab, start_sim},
};
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

const CAP: u64 = 500;
const CLIENTS: usize = 32;
const FLOOD: Duration = Duration::from_secs(10);
const HEALTH_PERIOD: Duration = Duration::from_secs(2);

pub async fn run(_args: &FaultsArgs) -> anyhow::Result<Outcome> {
    let sim = start_sim(SimConfig::default()).await?;
    Lab::start().await?.run_beside(sim, scenario).await
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Seen {
    accepted: AtomicU64,
    throttled: AtomicU64,
    throttled_without_retry_after: AtomicU64,
    other: AtomicU64,
}

async fn scenario(lab: &mut Lab, sim: &coinbeat_sim::SimHandle) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new("flood");
    let mut env = sim_env(sim);
    env.push(schedule_config(
        lab,
        &[("health", "*/2 * * * * *", "health")],
        "",
    )?);
    env.push((
        "COINBEAT_QUEUES__OVERRIDES__PRICES__MAX_BACKLOG",
        CAP.to_string(),
    ));
    // The flood comes from one address; what is under test is the queue's cap, not the
    // per-client limit (which would refuse most of it first).
    env.push(("COINBEAT_API__CLIENT_RATE_PER_SEC", "0".into()));
    // Nor is the cap on one caller's waiting tasks (every request carries the same key).
    env.push(("COINBEAT_API__MAX_WAITING_PER_CALLER", "0".into()));
    let (api, _) = Api::spawn(lab, &env).await?;
    lab.spawn(Component::Scheduler, &env)?;
    lab.spawn(Component::Worker(QueueWorker::HealthWorker), &env)?;
    lab.wait_for_workers(&HealthJob::queue(), 1).await?;
    let first = Instant::now();
    while health_age(&api).await.is_none() {
        anyhow::ensure!(
            first.elapsed() < Duration::from_secs(30),
            "no health report within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    // Each request is distinct work (its own set of symbols, one of the 4,095 non-empty subsets
    // of the tracked set), so single flight joins none into a task already waiting: the flood
    // is of new work, which the cap must hold back. (An idempotency key of its own would not
    // do: identical args share a task whatever the key.)
    let tracked: Vec<_> = coinbeat_shared::Settings::default()
        .prices
        .tracked
        .into_iter()
        .take(12)
        .collect();
    let sent = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (api, seen, stop, sent) = (api.clone(), seen.clone(), stop.clone(), sent.clone());
            let tracked = tracked.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    let subset = n as usize % ((1 << tracked.len()) - 1) + 1;
                    let symbols: Vec<&str> = tracked
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| subset & (1 << i) != 0)
                        .map(|(_, s)| s.as_str())
                        .collect();
                    let body = serde_json::json!({
                        "kind": "prices",
                        "args": {"symbols": symbols},
                        "force": true,
                    });
                    let (status, retry_after, _) = api.submit(&body).await;
                    let counter = match (status, retry_after) {
                        (202, _) => &seen.accepted,
                        (429, Some(_)) => &seen.throttled,
                        (429, None) => &seen.throttled_without_retry_after,
                        _ => &seen.other,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // Meanwhile: the queue's depth and the health report's age, every 200 ms.
    let queue = PricesJob::queue();
    let settings = lab.settings.queues.for_queue(&queue);
    let (mut deepest, mut stalest) = (0u64, Duration::ZERO);
    let started = Instant::now();
    while started.elapsed() < FLOOD {
        let stats =
            coinbeat_shared::queue::queue_stats(&lab.conn, &lab.keys, &queue, &settings).await?;
        deepest = deepest.max(stats.waiting + stats.scheduled_due + stats.scheduled_future);
        if let Some(age) = health_age(&api).await {
            stalest = stalest.max(age);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.context("a flood client panicked")?;
    }

    let accepted = seen.accepted.load(Ordering::Relaxed);
    let throttled = seen.throttled.load(Ordering::Relaxed);
    let bare = seen.throttled_without_retry_after.load(Ordering::Relaxed);
    let other = seen.other.load(Ordering::Relaxed);
    outcome.jobs = accepted;
    outcome.lost = Some(0);
    outcome.check(
        accepted == CAP && throttled > 0,
        format!("{accepted} accepted (cap {CAP}), {throttled} refused with 429 + Retry-After"),
    );
    outcome.check(
        bare == 0 && other == 0,
        format!("{bare} 429s without Retry-After, {other} other answers"),
    );
    outcome.check(
        deepest <= CAP,
        format!("deepest queue {deepest} (cap {CAP})"),
    );
    // A report is written every period; allow one period late plus the job's own time.
    let bound = HEALTH_PERIOD * 2 + Duration::from_secs(2);
    outcome.check(
        stalest <= bound,
        format!(
            "health report at most {:.1} s old during the flood (≤ {} s)",
            stalest.as_secs_f64(),
            bound.as_secs()
        ),
    );
    Ok(outcome)
}

/// How old the latest health report is, from `GET /v1/health`.
async fn health_age(api: &Api) -> Option<Duration> {
    let report = api.json("/v1/health").await?;
    let at = report
        .get("checked_at")
        .or_else(|| report.get("generated_at"))?
        .as_str()?;
    let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    let age = chrono::Utc::now().signed_duration_since(at);
    age.to_std().ok().or(Some(Duration::ZERO))
}
