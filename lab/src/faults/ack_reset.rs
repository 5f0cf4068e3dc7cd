//! `faults ack-reset`: two `probe-worker` replicas drain 10,000 probe tasks while a side
//! connection resets every other client's connection every 200 ms (`CLIENT KILL TYPE normal`),
//! one time in four during a `CLIENT PAUSE WRITE`, so acks are cut off in flight or held and
//! then cut, until the last task has been fetched. After the last reset every task must end done exactly once in the queue's
//! records, none lost, within the orphan window + 5 s; and at no moment may a task be shown
//! running (in an in-flight set) by a worker silent for longer than the orphan window + 5 s.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use coinbeat_shared::jobs::{Job, ProbeJob};
use redis::aio::MultiplexedConnection;

use super::{
    kill::{ORPHAN_WINDOW, worker_env},
    ledger,
    outcome::Outcome,
};
use crate::bench::lab::{Lab, counter_across, free_addr};
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

const TASKS: u64 = 10_000;
const REPLICAS: usize = 2;
const CONCURRENCY: usize = 16;
const RESET_EVERY: Duration = Duration::from_millis(200);
/// The resets go on until every task has been fetched (so acks are in flight at every reset),
/// for at most this long.
const FAULT_AT_MOST: Duration = Duration::from_secs(20);

pub async fn run() -> anyhow::Result<Outcome> {
    Lab::start().await?.run(scenario).await
}

/// The in-flight sets that hold tasks, each with how long (s, Redis's clock) its worker has
/// been silent; `None` when no registry entry names the worker.
async fn holders(
    side: &mut MultiplexedConnection,
    lab: &Lab,
) -> anyhow::Result<Vec<(String, u64, Option<i64>)>> {
    let k = lab.keys.queue(&ProbeJob::queue());
    let prefix = k.inflight_prefix();
    let mut cursor = 0u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(k.inflight_pattern())
            .arg("COUNT")
            .arg(1000)
            .query_async(side)
            .await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let (now, _): (i64, i64) = redis::cmd("TIME").query_async(side).await?;
    let mut out = Vec::new();
    for key in keys {
        let held: u64 = redis::cmd("SCARD").arg(&key).query_async(side).await?;
        if held == 0 {
            continue;
        }
        let worker = key
            .strip_prefix(&prefix)
            .unwrap_or(&key)
            .trim_start_matches(':')
            .to_owned();
        let beat: Option<f64> = redis::cmd("ZSCORE")
            .arg(k.workers())
            .arg(&worker)
            .query_async(side)
            .await?;
        out.push((worker, held, beat.map(|b| now - b as i64)));
    }
    Ok(out)
}

/// The probe queue's counters, asked again when the lab's own connection was just reset.
async fn probe_stats(lab: &Lab) -> anyhow::Result<coinbeat_shared::queue::QueueStats> {
    let mut tries = 0;
    loop {
        match ledger::probe_stats(lab).await {
            Err(_) if tries < 10 => tries += 1,
            other => return other,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scenario(lab: &mut Lab) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new("ack-reset");
    let mut ops = Vec::new();
    let mut env = worker_env(CONCURRENCY);
    for _ in 0..REPLICAS {
        let addr = free_addr()?;
        env.retain(|(k, _)| *k != "COINBEAT_OPS__ADDR");
        env.push(("COINBEAT_OPS__ADDR", addr.to_string()));
        lab.spawn(Component::Worker(QueueWorker::ProbeWorker), &env)?;
        ops.push(addr);
    }
    lab.wait_for_workers(&ProbeJob::queue(), REPLICAS as u64)
        .await?;
    lab.producer()
        .enqueue_bulk(&ledger::probe_jobs(0..TASKS))
        .await?;

    // The side connection is never reset itself (`CLIENT KILL` skips the caller).
    let mut side = redis::Client::open(lab.settings.redis.url.expose())?
        .get_multiplexed_async_connection()
        .await?;
    let bound = ORPHAN_WINDOW + Duration::from_secs(5);
    let mut resets = 0u32;
    let mut killed = 0u64;
    let mut unheld: HashMap<String, (u64, Option<i64>)> = HashMap::new();
    let fault_started = Instant::now();
    while fault_started.elapsed() < FAULT_AT_MOST
        && (resets < 5 || probe_stats(lab).await?.waiting > 0)
    {
        if resets % 4 == 3 {
            let _: () = redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg(300)
                .arg("WRITE")
                .query_async(&mut side)
                .await?;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let n: u64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .query_async(&mut side)
            .await?;
        let _: () = redis::cmd("CLIENT")
            .arg("UNPAUSE")
            .query_async(&mut side)
            .await?;
        killed += n;
        resets += 1;
        for (worker, held, silent) in holders(&mut side, lab).await? {
            if silent.is_none_or(|s| s as u64 > bound.as_secs()) {
                unheld.insert(worker, (held, silent));
            }
        }
        tokio::time::sleep(RESET_EVERY).await;
    }
    let last_reset = Instant::now();
    println!("{resets} resets, {killed} connections cut; now waiting for the queue to settle");

    // Settle: every task done and nothing held, within the orphan window + 5 s (and a little
    // more to see it through if it is late).
    let mut settled = None;
    let stats = loop {
        for (worker, held, silent) in holders(&mut side, lab).await? {
            if silent.is_none_or(|s| s as u64 > bound.as_secs()) {
                unheld.insert(worker, (held, silent));
            }
        }
        let stats = probe_stats(lab).await?;
        if stats.done + stats.dead >= TASKS && ledger::idle(&stats) {
            settled = Some(last_reset.elapsed());
            break stats;
        }
        if last_reset.elapsed() > bound + Duration::from_secs(30) {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let runs = ledger::runs(lab).await?;
    let tally = ledger::tally(&runs, 0..TASKS);
    let restarts = counter_across(&ops, "coinbeat_worker_restarts_total", "").await?;
    let retried = counter_across(&ops, "coinbeat_tasks_total", "outcome=\"retried\"").await?;
    outcome.jobs = TASKS;
    outcome.lost = Some(tally.lost);
    outcome.duplicated = Some(tally.duplicated);
    outcome.recovery = settled;
    outcome.check(
        tally.lost == 0 && stats.done == TASKS && stats.dead == 0,
        format!(
            "{resets} resets ({killed} connections cut, one in four during CLIENT PAUSE WRITE); \
             {} done, {} dead, {} lost",
            stats.done, stats.dead, tally.lost
        ),
    );
    outcome.check(
        settled.is_some_and(|s| s <= bound),
        format!(
            "all done and nothing in flight {} after the last reset (≤ {} s)",
            settled.map_or("never".to_owned(), |s| format!("{:.1} s", s.as_secs_f64())),
            bound.as_secs()
        ),
    );
    outcome.check(
        unheld.is_empty(),
        format!(
            "tasks shown running by a worker silent past {} s: {}",
            bound.as_secs(),
            if unheld.is_empty() {
                "none".to_owned()
            } else {
                format!("{unheld:?}")
            }
        ),
    );
    // A task runs again only when its incarnation gave up on an ack and handed its tasks back,
    // or when its handler failed and was retried: the probe handler's own ledger write can be
    // cut by a reset after Redis applied it, so that failed run counted once already (at least
    // once, as for any handler with effects). Each such run adds at most one.
    let allowed = restarts as u64 * CONCURRENCY as u64 + retried as u64;
    outcome.check(
        tally.duplicated <= allowed,
        format!(
            "{} completed twice (≤ {allowed}: {restarts} worker restarts × concurrency + \
             {retried} runs retried after a failed handler)",
            tally.duplicated
        ),
    );
    Ok(outcome)
}
