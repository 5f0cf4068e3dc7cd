//! `faults memory-pressure`: a Redis of 8 MB (`maxmemory-policy noeviction`) filled with probe
//! tasks until the producer refuses them for memory, then drained by two `probe-worker`
//! replicas and a `cleanup-worker` while enqueues keep being tried. Enqueues must be refused
//! with the reason (`QueueError::MemoryFull`, never Redis's OOM error), the workers must drain
//! every task without one restart (their `coinbeat_worker_restarts_total`), the cleanup job must
//! still be taken and run, retention must prune done records as it goes, and Redis must never
//! pass `maxmemory`. Last, with the policy switched to `allkeys-lru`, a worker process must
//! refuse to start, naming the policy and the setting that accepts it.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use coinbeat_shared::{
    jobs::{CleanupJob, Job, ProbeJob},
    queue::{EnqueueOptions, QueueError, queue_stats},
};

use super::{kill::worker_env, ledger, outcome::Outcome};
use crate::bench::lab::{Lab, counter_across, free_addr};
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

const MAXMEMORY: u64 = 8 * 1024 * 1024;
const BATCH: u64 = 500;
const REPLICAS: usize = 2;

pub async fn run() -> anyhow::Result<Outcome> {
    let maxmemory = MAXMEMORY.to_string();
    Lab::start_with_redis(&[
        "--save",
        "",
        "--maxmemory",
        &maxmemory,
        "--maxmemory-policy",
        "noeviction",
    ])
    .await?
    .run(scenario)
    .await
}

/// Probe tasks `seqs` that run 1 ms each and count themselves in the ledger.
fn quick_jobs(seqs: std::ops::Range<u64>) -> Vec<ProbeJob> {
    seqs.map(|seq| ProbeJob {
        seq,
        sleep_ms: 1,
        record: true,
        ..ProbeJob::default()
    })
    .collect()
}

async fn used_memory(lab: &Lab) -> anyhow::Result<u64> {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut lab.conn.clone())
        .await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .context("INFO memory without used_memory")
}

async fn scenario(lab: &mut Lab) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new("memory-pressure");
    let producer = lab.producer();

    // Fill until the producer refuses for memory.
    let mut accepted = 0u64;
    let mut refusal: Option<String> = None;
    let mut other_errors = Vec::new();
    while refusal.is_none() && accepted < 1_000_000 {
        match producer
            .enqueue_bulk(&quick_jobs(accepted..accepted + BATCH))
            .await
        {
            Ok(ids) => accepted += ids.len() as u64,
            Err(e @ QueueError::MemoryFull { .. }) => refusal = Some(e.to_string()),
            Err(e) => {
                other_errors.push(e.to_string());
                break;
            }
        }
    }
    let full_at = used_memory(lab).await?;
    println!(
        "filled: {accepted} tasks, {} KiB used of {} KiB",
        full_at / 1024,
        MAXMEMORY / 1024
    );
    outcome.check(
        refusal.is_some() && other_errors.is_empty(),
        format!(
            "{accepted} tasks accepted, then refused for memory (\"{}\"){}",
            refusal.as_deref().unwrap_or("never refused"),
            if other_errors.is_empty() {
                String::new()
            } else {
                format!("; other errors: {other_errors:?}")
            }
        ),
    );
    // The cleanup queue has no mark: its job is what frees memory.
    let cleanup = producer
        .enqueue(&CleanupJob {}, EnqueueOptions::default())
        .await;
    outcome.check(
        cleanup.is_ok(),
        match &cleanup {
            Ok(_) => "a cleanup job still accepted while full".to_owned(),
            Err(e) => format!("a cleanup job refused while full: {e}"),
        },
    );

    let mut ops = Vec::new();
    for _ in 0..REPLICAS {
        let addr = free_addr()?;
        let mut env = worker_env(16);
        env.push(("COINBEAT_OPS__ADDR", addr.to_string()));
        lab.spawn(Component::Worker(QueueWorker::ProbeWorker), &env)?;
        ops.push(addr);
    }
    lab.spawn(
        Component::Worker(QueueWorker::CleanupWorker),
        &worker_env(1),
    )?;

    // Drain, trying an enqueue every 100 ms meanwhile.
    let started = Instant::now();
    let mut late_refused = 0u64;
    let mut late_other = Vec::new();
    let mut next = accepted;
    let mut peak = full_at;
    let mut completed = 0;
    let stats = loop {
        // Enqueues go on being tried until the tasks of the fill have completed.
        if completed < accepted {
            match producer
                .enqueue(&quick_jobs(next..next + 1)[0], EnqueueOptions::default())
                .await
            {
                Ok(_) => next += 1,
                Err(QueueError::MemoryFull { .. }) => late_refused += 1,
                Err(e) => late_other.push(e.to_string()),
            }
        }
        peak = peak.max(used_memory(lab).await?);
        let stats = ledger::probe_stats(lab).await?;
        // Done records are pruned as the drain goes: count completions in the ledger.
        completed = redis::cmd("HLEN")
            .arg(lab.keys.probe_runs())
            .query_async(&mut lab.conn.clone())
            .await?;
        if (completed + stats.dead >= next && ledger::idle(&stats))
            || started.elapsed() > Duration::from_secs(120)
        {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let drained = started.elapsed();
    let total = next;

    let runs = ledger::runs(lab).await?;
    let tally = ledger::tally(&runs, 0..total);
    outcome.jobs = total;
    outcome.lost = Some(tally.lost);
    outcome.duplicated = Some(tally.duplicated);
    outcome.recovery = Some(drained);
    outcome.check(
        tally.lost == 0 && stats.dead == 0,
        format!(
            "{} of {total} tasks completed, {} dead, drained in {:.1} s",
            tally.completed,
            stats.dead,
            drained.as_secs_f64()
        ),
    );
    outcome.check(
        late_other.is_empty(),
        format!(
            "during the drain: {late_refused} enqueues refused for memory, {} accepted once \
             memory fell, other errors: {late_other:?}",
            total - accepted
        ),
    );
    outcome.check(
        peak <= MAXMEMORY,
        format!(
            "Redis at most {} KiB of its {} KiB",
            peak / 1024,
            MAXMEMORY / 1024
        ),
    );
    let finished: u64 = redis::cmd("ZCARD")
        .arg(lab.keys.queue(&ProbeJob::queue()).finished())
        .query_async(&mut lab.conn.clone())
        .await?;
    outcome.check(
        finished < total,
        format!(
            "retention as it went: {} of {total} finished records pruned, {finished} kept",
            total.saturating_sub(finished)
        ),
    );
    let cleanup_queue = CleanupJob::queue();
    let cleanup_stats = queue_stats(
        &lab.conn,
        &lab.keys,
        &cleanup_queue,
        &lab.settings.queues.for_queue(&cleanup_queue),
    )
    .await?;
    outcome.check(
        cleanup_stats.done == 1,
        format!("the cleanup job ran: {} done", cleanup_stats.done),
    );
    let restarts = counter_across(&ops, "coinbeat_worker_restarts_total", "").await?;
    outcome.check(
        restarts == 0.0 && lab.all_running(),
        format!("worker restarts: {restarts}; no process exited"),
    );

    // An evicting policy: a worker refuses to start, naming it and the setting.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query_async(&mut lab.conn.clone())
        .await?;
    let (refused, said) = refuses_to_start(lab).await?;
    let names_both = said.contains("allkeys-lru") && said.contains("redis.allow_evicting_policy");
    outcome.check(
        refused && names_both,
        if refused && names_both {
            "with allkeys-lru a probe-worker refuses to start, naming the policy and \
             redis.allow_evicting_policy"
                .to_owned()
        } else {
            format!(
                "with allkeys-lru a probe-worker {}: {}",
                if refused {
                    "exited"
                } else {
                    "did not refuse to start"
                },
                said.lines().last().unwrap_or("").trim()
            )
        },
    );
    Ok(outcome)
}

/// Runs `coinbeat run probe-worker` against the lab's Redis; whether it exited with an error
/// within 15 s, and what it wrote.
async fn refuses_to_start(lab: &Lab) -> anyhow::Result<(bool, String)> {
    let exe = std::env::current_exe()?;
    let child = tokio::process::Command::new(exe)
        .args(["run", "probe-worker"])
        .env("REDIS_URL", lab.settings.redis.url.expose())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    match tokio::time::timeout(Duration::from_secs(15), child.wait_with_output()).await {
        Ok(output) => {
            let output = output?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            Ok((!output.status.success(), text))
        }
        Err(_) => Ok((false, "still running after 15 s".to_owned())),
    }
}
