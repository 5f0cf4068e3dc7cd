//! The `cleanup` queue: expired cache records, old history points, finished task records past
//! their retention, what dead workers left behind, and the keys of schedule entries long gone
//! from the table. The result counts what went, per kind;
//! a second run right after the first removes nothing.

use std::collections::BTreeMap;

use chrono::Utc;
use coinbeat_shared::{
    Settings,
    cache::{migrate_symbol_keys, sweep_prices},
    jobs::{CleanupJob, Job, ProbeJob, Queue},
    keys::Keys,
    queue::{JobError, JobResult, QueueRedis, prune_finished, sweep_dead_workers},
    schedule_sweep::sweep_removed_entries,
    watched_wallets::effective_schedule,
};
use redis::aio::ConnectionManager;
use serde_json::json;

use crate::boot::WorkerEnv;

/// A worker silent for this many orphan windows is gone for good: its leftovers can go.
const DEAD_WORKER_WINDOWS: u32 = 10;

/// Handles `cleanup` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CleanupWorker {
    conn: ConnectionManager,
    queue_redis: QueueRedis,
    keys: Keys,
    settings: Settings,
}

impl CleanupWorker {
    pub fn new(env: &WorkerEnv) -> Self {
        Self {
            conn: env.conn.clone(),
            queue_redis: env.queues.clone(),
            keys: env.keys.clone(),
            settings: env.settings.clone(),
        }
    }

    pub async fn handle(&self, _job: CleanupJob) -> JobResult {
        // Records a replica of an older release wrote under a symbol during a rolling upgrade.
        let moved =
            migrate_symbol_keys(&self.conn, &self.keys, self.settings.prices.history_points)
                .await
                .map_err(|e| failed("moving symbol-keyed prices", e))?;
        let prices = sweep_prices(
            &self.conn,
            &self.keys,
            &self.settings.prices,
            Utc::now().timestamp_millis(),
        )
        .await
        .map_err(|e| failed("sweeping prices", e))?;

        let mut tasks = BTreeMap::new();
        let mut workers = BTreeMap::new();
        // The diagnostic `probe` queue too: benchmarks and fault runs fill it like any other.
        let queues = Queue::ALL
            .iter()
            .map(|queue| queue.name())
            .chain([ProbeJob::queue()]);
        for name in queues {
            let queue_settings = self.settings.queues.for_queue(&name);
            let queue_conn = self.queue_redis.conn(&name);
            let pruned = prune_finished(
                &queue_conn,
                &self.keys,
                &name,
                queue_settings.finished_retention(),
            )
            .await
            .map_err(|e| failed("pruning finished tasks", e))?;
            let swept = sweep_dead_workers(
                &queue_conn,
                &self.keys,
                &name,
                queue_settings.orphan_after() * DEAD_WORKER_WINDOWS,
            )
            .await
            .map_err(|e| failed("sweeping dead workers", e))?;
            tasks.insert(name.to_string(), pruned);
            workers.insert(name.to_string(), swept);
        }
        let table = effective_schedule(&self.conn, &self.keys, &self.settings)
            .await
            .map_err(|e| failed("reading the schedule table", e))?;
        let schedules = sweep_removed_entries(
            &self.conn,
            &self.keys,
            &table,
            Utc::now().timestamp_millis(),
        )
        .await
        .map_err(|e| failed("sweeping removed schedule entries", e))?;
        let removed = json!({
            "price_records": prices.expired_records,
            "history_points": prices.history_points,
            "orphaned_histories": prices.orphaned_histories,
            "finished_tasks": tasks,
            "dead_workers": workers,
            "removed_schedule_entries": schedules,
        });
        tracing::info!(%removed, "cleanup done");
        Ok(Some(
            json!({ "removed": removed, "moved_price_records": moved }),
        ))
    }
}

/// A Redis failure mid-cleanup: retried; what was removed stays removed.
fn failed(what: &str, e: impl std::fmt::Display) -> JobError {
    JobError::transient(format!("{what}: {e}"))
}

impl crate::worker::Worker for CleanupWorker {
    type Job = CleanupJob;
    const NAME: &'static str = "cleanup-worker";
    const ABOUT: &'static str =
        "Runs the `cleanup` queue: prunes finished tasks, old history and expired records.";

    async fn build(env: &WorkerEnv) -> anyhow::Result<Self> {
        Ok(Self::new(env))
    }

    async fn run(&self, job: CleanupJob, _ctx: coinbeat_shared::queue::JobContext) -> JobResult {
        self.handle(job).await
    }
}
