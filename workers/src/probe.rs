//! The `probe` queue: tasks that do only what their payload asks (sleep, fail, record that they
//! ran). It measures the queue machinery without an upstream and lets tests hold tasks in
//! flight, make them fail, and count how often each one ran.

use std::time::Duration;

use coinbeat_shared::{
    jobs::{ProbeFailure, ProbeJob},
    keys::Keys,
    queue::{JobContext, JobError, JobResult},
};

/// The `probe-worker`: diagnostic tasks, no upstream.
#[derive(Debug, Clone)]
pub struct ProbeWorker {
    conn: redis::aio::ConnectionManager,
    keys: Keys,
}

impl crate::worker::Worker for ProbeWorker {
    type Job = ProbeJob;
    const NAME: &'static str = "probe-worker";
    const ABOUT: &'static str =
        "Runs the `probe` queue: diagnostic tasks for benchmarks and fault tests.";
    const PRODUCT: bool = false;

    async fn build(env: &crate::boot::WorkerEnv) -> anyhow::Result<Self> {
        Ok(Self {
            conn: env.conn.clone(),
            keys: env.keys.clone(),
        })
    }

    async fn run(&self, job: ProbeJob, ctx: JobContext) -> JobResult {
        handle(self.conn.clone(), self.keys.clone(), job, ctx).await
    }
}

/// Runs one probe task. With `stamp` set, it first appends `{seq}:{unix_micros}` to
/// `Keys::probe_starts` (when it started). With `record` set, it counts the run in the probe run
/// ledger (`Keys::probe_runs`, field = `seq`) once the task has finished its sleep.
async fn handle(
    conn: redis::aio::ConnectionManager,
    keys: Keys,
    job: ProbeJob,
    _ctx: JobContext,
) -> JobResult {
    if job.stamp {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or_default();
        let _: i64 = redis::cmd("RPUSH")
            .arg(keys.probe_starts())
            .arg(format!("{}:{micros}", job.seq))
            .query_async(&mut conn.clone())
            .await
            .map_err(|e| JobError::transient(format!("stamping the start: {e}")))?;
    }
    if job.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
    }
    if job.record {
        let _: i64 = redis::cmd("HINCRBY")
            .arg(keys.probe_runs())
            .arg(job.seq)
            .arg(1)
            .query_async(&mut conn.clone())
            .await
            .map_err(|e| JobError::transient(format!("recording the run: {e}")))?;
    }
    match job.fail {
        Some(ProbeFailure::Permanent) => Err(JobError::permanent(format!(
            "probe {} failed on purpose",
            job.seq
        ))),
        Some(ProbeFailure::Transient) => Err(JobError::transient(format!(
            "probe {} failed on purpose",
            job.seq
        ))),
        None => Ok(Some(serde_json::json!({ "seq": job.seq }))),
    }
}
