//! `faults kill`: three `probe-worker` replicas drain `--jobs` tasks (5–50 ms each) while one
//! of them, picked at random, is SIGKILLed every 2 s and replaced at once by a new process (what
//! an orchestrator does). Passes when no task is lost, completions beyond the first are at most
//! what the killed workers were running (kills × concurrency), everything is done within the
//! orphan window plus 10 s of the last kill, and no in-flight set is left.

use std::time::{Duration, Instant};

use coinbeat_shared::jobs::{Job, ProbeJob};
use rand::seq::IndexedRandom;

use super::{ledger, outcome::Outcome};
use crate::{args::FaultsArgs, bench::lab::Lab};
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// How often a replica is killed.
const KILL_EVERY: Duration = Duration::from_secs(2);

/// Settings of every worker replica in the fault scenarios: a short orphan window, so a dead
/// worker's tasks come back within seconds, and a few tasks at once.
pub fn worker_env(concurrency: usize) -> Vec<(&'static str, String)> {
    vec![
        ("COINBEAT_QUEUES__DEFAULTS__HEARTBEAT_SECS", "1".into()),
        ("COINBEAT_QUEUES__DEFAULTS__ORPHAN_AFTER_SECS", "3".into()),
        (
            "COINBEAT_QUEUES__DEFAULTS__CONCURRENCY",
            concurrency.to_string(),
        ),
        (
            "COINBEAT_QUEUES__DEFAULTS__FETCH_BATCH",
            concurrency.to_string(),
        ),
    ]
}

/// Orphan window of [`worker_env`].
pub const ORPHAN_WINDOW: Duration = Duration::from_secs(3);

pub async fn run(args: &FaultsArgs) -> anyhow::Result<Outcome> {
    Lab::start()
        .await?
        .run(async |lab| scenario(args, lab).await)
        .await
}

async fn scenario(args: &FaultsArgs, lab: &mut Lab) -> anyhow::Result<Outcome> {
    const CONCURRENCY: usize = 4;
    let mut outcome = Outcome::new("kill");
    let env = worker_env(CONCURRENCY);
    let n = args.jobs as u64;
    ledger::start_draining(lab, &env, args.replicas, n).await?;
    outcome.jobs = n;

    let mut kills = 0u64;
    let mut last_kill = Instant::now();
    loop {
        tokio::time::sleep(KILL_EVERY).await;
        let stats = ledger::probe_stats(lab).await?;
        // Killing once nothing is left to run would test nothing.
        if stats.waiting < (CONCURRENCY * args.replicas) as u64 {
            break;
        }
        let victim = *lab
            .pids()
            .choose(&mut rand::rng())
            .expect("replicas are running");
        lab.signal(victim, "KILL")?;
        lab.reap(victim, Duration::from_secs(5)).await?;
        last_kill = Instant::now();
        kills += 1;
        lab.spawn(Component::Worker(QueueWorker::ProbeWorker), &env)?;
    }

    let expected: Vec<u64> = (0..n).collect();
    let runs =
        ledger::wait_settled(lab, &expected, ORPHAN_WINDOW + Duration::from_secs(30)).await?;
    let recovery = last_kill.elapsed();
    let tally = ledger::tally(&runs, 0..n);
    let leftover = inflight_sets(lab).await?;
    outcome.lost = Some(tally.lost);
    outcome.duplicated = Some(tally.duplicated);
    outcome.recovery = Some(recovery);

    let allowed = kills * CONCURRENCY as u64;
    outcome.check(kills > 0, format!("{kills} replicas SIGKILLed"));
    outcome.check(tally.lost == 0, format!("{} lost", tally.lost));
    outcome.check(
        tally.duplicated <= allowed,
        format!(
            "{} duplicated (≤ {allowed}: kills × concurrency)",
            tally.duplicated
        ),
    );
    let bound = ORPHAN_WINDOW + Duration::from_secs(10);
    outcome.check(
        recovery <= bound,
        format!(
            "all done {:.1} s after the last kill (≤ {} s)",
            recovery.as_secs_f64(),
            bound.as_secs()
        ),
    );
    outcome.check(
        leftover == 0,
        format!("{leftover} tasks left in in-flight sets"),
    );
    Ok(outcome)
}

/// Tasks still held in any worker's in-flight set of the probe queue.
pub async fn inflight_sets(lab: &Lab) -> anyhow::Result<u64> {
    let ns = lab.keys.queue(&ProbeJob::queue());
    let pattern = ns.inflight_pattern();
    let mut conn = lab.conn.clone();
    let sets: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut conn)
        .await?;
    let mut held = 0;
    for set in sets {
        let n: u64 = redis::cmd("SCARD").arg(&set).query_async(&mut conn).await?;
        held += n;
    }
    Ok(held)
}
