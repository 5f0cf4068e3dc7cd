//! `faults poison`: 1,000 probe tasks for two `probe-worker` replicas, five of them with their
//! meta hash deleted and five with their payload deleted before the workers start (what an
//! evicting managed Redis does). Each unreadable task must end dead with its reason and every
//! other task done once, with no worker restarted.

use std::time::{Duration, Instant};

use coinbeat_shared::jobs::{Job, ProbeJob};

use super::{kill::worker_env, ledger, outcome::Outcome};
use crate::bench::lab::Lab;
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

const TASKS: u64 = 1_000;
const BROKEN: usize = 5;

pub async fn run() -> anyhow::Result<Outcome> {
    Lab::start().await?.run(scenario).await
}

async fn scenario(lab: &mut Lab) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new("poison");
    let ids = lab
        .producer()
        .enqueue_bulk(&ledger::probe_jobs(0..TASKS))
        .await?;
    let k = lab.keys.queue(&ProbeJob::queue());
    let mut conn = lab.conn.clone();
    let step = ids.len() / (2 * BROKEN);
    let broken: Vec<String> = ids
        .iter()
        .step_by(step)
        .take(2 * BROKEN)
        .map(|id| id.to_string())
        .collect();
    for (i, id) in broken.iter().enumerate() {
        if i % 2 == 0 {
            let _: u64 = redis::cmd("DEL")
                .arg(k.meta(id))
                .query_async(&mut conn)
                .await?;
        } else {
            let _: u64 = redis::cmd("HDEL")
                .arg(k.data())
                .arg(id)
                .query_async(&mut conn)
                .await?;
        }
    }
    let env = worker_env(16);
    for _ in 0..2 {
        lab.spawn(Component::Worker(QueueWorker::ProbeWorker), &env)?;
    }
    let started = Instant::now();
    let stats = loop {
        let stats = ledger::probe_stats(lab).await?;
        if stats.done + stats.dead == TASKS || started.elapsed() > Duration::from_secs(60) {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let drained = started.elapsed();
    let mut reasons = 0;
    for id in &broken {
        let (status, error): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(k.meta(id))
            .arg("status")
            .arg("last_error")
            .query_async(&mut conn)
            .await?;
        if status.as_deref() == Some("Killed")
            && error.is_some_and(|e| e.starts_with("unreadable task:"))
        {
            reasons += 1;
        }
    }
    let runs = ledger::runs(lab).await?;
    let readable = TASKS - broken.len() as u64;
    let completed_once = runs.values().filter(|n| **n == 1).count() as u64;
    outcome.jobs = TASKS;
    outcome.lost = Some(readable.saturating_sub(runs.len() as u64));
    outcome.duplicated = Some(runs.values().map(|n| n.saturating_sub(1)).sum());
    outcome.recovery = Some(drained);
    outcome.check(
        stats.dead == broken.len() as u64 && stats.done == readable,
        format!("{} done, {} dead", stats.done, stats.dead),
    );
    outcome.check(
        reasons == broken.len(),
        format!(
            "{reasons} of {} unreadable tasks dead with the reason",
            broken.len()
        ),
    );
    outcome.check(
        completed_once == readable,
        format!("{completed_once} of {readable} readable tasks completed once"),
    );
    outcome.check(lab.all_running(), "no worker process exited".to_owned());
    Ok(outcome)
}
