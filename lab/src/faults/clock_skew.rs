//! `faults clock-skew`: two `probe-worker` replicas, one with its clock a minute behind and one a
//! minute ahead (libfaketime preloaded), share tasks that each run for two orphan windows. The
//! queue decides on Redis's clock, so neither takes the other for dead: every task starts once.
//! Then the one behind is SIGKILLed holding tasks, which must start again on the other within
//! the orphan window plus 5 s. Needs Debian's `faketime` package.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use coinbeat_shared::jobs::{Job, ProbeJob};

use super::{
    kill::{ORPHAN_WINDOW, worker_env},
    ledger,
    outcome::Outcome,
};
use crate::bench::lab::Lab;
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// libfaketime as Debian installs it (the multi-threaded build: the workers run on tokio).
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
/// Tasks per phase.
const TASKS: u64 = 40;

pub async fn run() -> anyhow::Result<Outcome> {
    ensure!(
        std::path::Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} is missing: sudo apt-get install -y faketime"
    );
    Lab::start().await?.run(scenario).await
}

fn skewed(offset: &str) -> Vec<(&'static str, String)> {
    let mut env = worker_env(TASKS as usize);
    env.extend([
        ("LD_PRELOAD", LIBFAKETIME.to_owned()),
        ("FAKETIME", offset.to_owned()),
        ("DONT_FAKE_MONOTONIC", "1".to_owned()),
    ]);
    env
}

async fn scenario(lab: &mut Lab) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new("clock-skew");
    let behind = lab.spawn(Component::Worker(QueueWorker::ProbeWorker), &skewed("-60s"))?;
    let ahead = lab.spawn(Component::Worker(QueueWorker::ProbeWorker), &skewed("+60s"))?;
    lab.wait_for_workers(&ProbeJob::queue(), 2).await?;

    // Phase 1: both alive for the whole run of tasks two orphan windows long.
    let long_ms = ORPHAN_WINDOW.as_millis() as u64 * 2;
    enqueue(lab, 0..TASKS, long_ms).await?;
    let expected: Vec<u64> = (0..TASKS).collect();
    ledger::wait_settled(lab, &expected, Duration::from_secs(60)).await?;
    let phase1 = starts(lab).await?;
    let twice = (0..TASKS)
        .filter(|seq| phase1.get(seq).copied().unwrap_or(0) > 1)
        .count();
    outcome.check(
        twice == 0,
        format!("{twice} of {TASKS} tasks started twice with both workers alive"),
    );

    // Phase 2: the worker behind takes the new tasks (the other is stopped for the moment it
    // takes to fetch them), then dies holding them.
    lab.signal(ahead, "STOP")?;
    enqueue(lab, TASKS..2 * TASKS, long_ms).await?;
    let held = held_by(lab, behind).await;
    lab.signal(ahead, "CONT")?;
    let held = held?;
    let killed_at = Instant::now();
    lab.signal(behind, "KILL")?;
    lab.reap(behind, Duration::from_secs(5)).await?;
    let bound = ORPHAN_WINDOW + Duration::from_secs(5);
    let recovery = loop {
        let now = starts(lab).await?;
        if held
            .iter()
            .all(|seq| now.get(seq).copied().unwrap_or(0) >= 2)
        {
            break killed_at.elapsed();
        }
        if killed_at.elapsed() > bound + Duration::from_secs(30) {
            break killed_at.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let expected: Vec<u64> = (0..2 * TASKS).collect();
    let runs = ledger::wait_settled(lab, &expected, Duration::from_secs(60)).await?;
    let tally = ledger::tally(&runs, 0..2 * TASKS);
    outcome.jobs = 2 * TASKS;
    outcome.lost = Some(tally.lost);
    outcome.duplicated = Some(tally.duplicated);
    outcome.recovery = Some(recovery);
    outcome.check(
        !held.is_empty(),
        format!("the worker behind held {} tasks", held.len()),
    );
    outcome.check(
        recovery <= bound,
        format!(
            "its tasks started again {:.1} s after the kill (≤ {} s)",
            recovery.as_secs_f64(),
            bound.as_secs()
        ),
    );
    outcome.check(tally.lost == 0, format!("{} lost", tally.lost));
    outcome.check(
        tally.duplicated == 0,
        format!("{} completed twice", tally.duplicated),
    );
    Ok(outcome)
}

async fn enqueue(lab: &Lab, seqs: std::ops::Range<u64>, sleep_ms: u64) -> anyhow::Result<()> {
    let jobs: Vec<ProbeJob> = seqs
        .map(|seq| ProbeJob {
            seq,
            sleep_ms,
            record: true,
            stamp: true,
            ..ProbeJob::default()
        })
        .collect();
    lab.producer().enqueue_bulk(&jobs).await?;
    Ok(())
}

/// seq → how many times it started (`Keys::probe_starts`).
async fn starts(lab: &Lab) -> anyhow::Result<HashMap<u64, u64>> {
    let stamps: Vec<String> = redis::cmd("LRANGE")
        .arg(lab.keys.probe_starts())
        .arg(0)
        .arg(-1)
        .query_async(&mut lab.conn.clone())
        .await?;
    let mut starts = HashMap::new();
    for stamp in stamps {
        let seq: u64 = stamp
            .split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .context("a start stamp without its sequence number")?;
        *starts.entry(seq).or_default() += 1;
    }
    Ok(starts)
}

/// The sequence numbers of what the worker with `pid` holds once every task is fetched and
/// started.
async fn held_by(lab: &Lab, pid: u32) -> anyhow::Result<Vec<u64>> {
    let k = lab.keys.queue(&ProbeJob::queue());
    let mut conn = lab.conn.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = ledger::probe_stats(lab).await?;
        let workers: Vec<String> = redis::cmd("ZRANGE")
            .arg(k.workers())
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await?;
        let name = workers.iter().find(|w| w.contains(&format!("-{pid}-")));
        if stats.waiting == 0
            && let Some(name) = name
        {
            let ids: Vec<String> = redis::cmd("SMEMBERS")
                .arg(k.inflight(name))
                .query_async(&mut conn)
                .await?;
            let mut seqs = Vec::new();
            for id in &ids {
                let payload: Option<String> = redis::cmd("HGET")
                    .arg(k.data())
                    .arg(id)
                    .query_async(&mut conn)
                    .await?;
                let payload: serde_json::Value =
                    serde_json::from_str(&payload.context("a held task without its payload")?)?;
                seqs.push(payload["seq"].as_u64().context("a probe without seq")?);
            }
            let started = starts(lab).await?;
            if seqs.iter().all(|seq| started.contains_key(seq)) {
                return Ok(seqs);
            }
        }
        ensure!(
            Instant::now() < deadline,
            "the worker behind never held started tasks"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
