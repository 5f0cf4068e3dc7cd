//! `coinbeat-scheduler`, the beat: turns the schedule table into jobs. It only enqueues; it
//! never runs a job or calls an upstream.
//!
//! - [`entry`]: a schedule entry parsed and checked at start-up (cron in UTC, checked payload).
//! - `beat`: one apalis-cron worker per entry, supervised, whose handler claims each tick.
//! - `claim`: enqueue a tick's job under the idempotency key `(entry, tick time)`, so exactly
//!   one job per tick however many replicas run (apalis-cron alone would enqueue one per
//!   replica: apalis-redis defect 9).
//! - `catch_up`: after downtime the latest missed tick runs once; on the very first start the
//!   entry runs at once.
//! - `record`: the run record of each entry in Redis (read with
//!   `coinbeat_shared::schedule_state::read_schedule_record`).
//! - [`error`]: why the scheduler refused to start.
//!
//! [`run`] is the whole scheduler; the `coinbeat-scheduler` binary and `coinbeat run scheduler`
//! both call it.

mod beat;
mod catch_up;
mod claim;
pub mod entry;
pub mod error;
mod record;

use std::sync::Arc;

use coinbeat_shared::{
    Settings,
    keys::Keys,
    queue::Producer,
    redis_conn::{self, ConnectError},
    settings::RedisSettings,
};
use redis::aio::ConnectionManager;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use entry::{Entry, parse_schedule};
pub use error::{EntryError, EntryProblem, SchedulerError};

/// Runs the beat for every enabled entry of `settings.schedule` until `shutdown` is cancelled.
///
/// Fails only at start: an invalid entry (every one is named) or a malformed Redis URL. Once
/// running it never fails: a Redis error is logged, the tick is caught up once Redis answers
/// again, and an unreachable Redis at start is waited for in the same way.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> Result<(), SchedulerError> {
    let entries = parse_schedule(&settings)?;
    let conn = connect(&settings.redis).await?;
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let producer = Producer::new(conn.clone(), keys.clone(), settings.queues.clone());
    let claimer = claim::Claimer::new(producer, conn, keys);
    log_table(&settings, &entries);

    if entries.is_empty() {
        tracing::warn!("no enabled schedule entries; idle until shutdown");
        shutdown.cancelled().await;
        return Ok(());
    }
    let mut beats = JoinSet::new();
    for entry in entries {
        beats.spawn(beat::run_entry(
            Arc::new(entry),
            claimer.clone(),
            shutdown.clone(),
        ));
    }
    while let Some(done) = beats.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "a beat task failed");
        }
    }
    tracing::info!("scheduler stopped");
    Ok(())
}

/// Connects to Redis; if it does not answer yet, returns a connection that keeps trying, so a
/// scheduler started before its Redis still beats (and catches up) once Redis is there.
async fn connect(redis: &RedisSettings) -> Result<ConnectionManager, ConnectError> {
    match redis_conn::connect(redis).await {
        Ok(conn) => Ok(conn),
        Err(ConnectError::Connect(e)) => {
            tracing::warn!(error = %e, "redis unavailable at start; beating anyway, catching up once it answers");
            redis_conn::connect_lazy(redis)
        }
        Err(e) => Err(e),
    }
}

fn log_table(settings: &Settings, entries: &[Entry]) {
    let now = chrono::Utc::now();
    for entry in entries {
        let next = entry.next_after(now).map(|t| t.to_rfc3339());
        tracing::info!(
            entry = entry.name(),
            cron = entry.cron(),
            kind = %entry.kind(),
            args = %entry.payload(),
            next_run = next.as_deref().unwrap_or("never"),
            "schedule entry"
        );
    }
    for (name, _) in settings.schedule.iter().filter(|(_, s)| !s.enabled) {
        tracing::info!(entry = name.as_str(), "schedule entry disabled");
    }
}
