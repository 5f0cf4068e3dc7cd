//! An operator's hand on a schedule entry: pause it, resume it, run it now.
//!
//! The state is one HASH per entry (`Keys::schedule_control`): `paused_ms` while paused,
//! `resumed_ms` from the last resume. The beat reads it before claiming any tick, catch-up
//! included, and skips the entry while it is paused.
//!
//! Resuming never replays what the pause skipped: ticks scheduled while paused were skipped on
//! purpose, not missed, so catch-up never claims a tick scheduled at or before `resumed_ms`. The
//! entry next runs at its first tick after the resume (or at once with [`run_now`]). A tick
//! being claimed at the very moment of a pause may still run.
//!
//! A manual run is enqueued without a tick claim (it is not a tick), recorded in the history as
//! `manual`, and leaves the run record (`last_tick_ms`, which catch-up reads) alone. It is
//! allowed while the entry is paused or disabled: the operator asked for it.

use redis::aio::ConnectionManager;
use serde::Serialize;

use crate::{
    Settings,
    keys::Keys,
    queue::{EnqueueOptions, Producer, TaskId},
    schedule_history::{RunRecord, RunTrigger, push_run},
    settings::ScheduleEntry,
    submit::{SubmitError, check_args},
};

/// HASH field: when (unix ms) the entry was paused; present only while it is paused.
pub const PAUSED_MS: &str = "paused_ms";
/// HASH field: when (unix ms) the entry was last resumed.
pub const RESUMED_MS: &str = "resumed_ms";

/// Why a control request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no schedule entry named {name:?}; the table has {}", .known.join(", "))]
    UnknownEntry { name: String, known: Vec<String> },
    /// The entry's arguments no longer fit its kind, or its queue refused the job.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Whether an entry is paused, and since when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PauseState {
    /// When it was paused (unix ms); `None` while it runs.
    pub paused_ms: Option<i64>,
    /// When it was last resumed (unix ms).
    pub resumed_ms: Option<i64>,
}

impl PauseState {
    pub fn is_paused(&self) -> bool {
        self.paused_ms.is_some()
    }
}

/// The entry of the schedule table called `name`.
pub fn find_entry<'a>(
    settings: &'a Settings,
    name: &str,
) -> Result<&'a ScheduleEntry, ControlError> {
    settings
        .schedule
        .get(name)
        .ok_or_else(|| ControlError::UnknownEntry {
            name: name.to_owned(),
            known: settings.schedule.keys().cloned().collect(),
        })
}

/// Reads whether `entry` is paused. A field that does not parse reads as absent.
pub async fn read_pause(
    conn: &ConnectionManager,
    keys: &Keys,
    entry: &str,
) -> Result<PauseState, redis::RedisError> {
    let (paused, resumed): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(keys.schedule_control(entry))
        .arg(PAUSED_MS)
        .arg(RESUMED_MS)
        .query_async(&mut conn.clone())
        .await?;
    let ms = |v: Option<String>| v.and_then(|v| v.parse().ok());
    Ok(PauseState {
        paused_ms: ms(paused),
        resumed_ms: ms(resumed),
    })
}

/// Pauses an entry of the table; pausing a paused entry keeps its first pause time. Returns the
/// state after.
pub async fn pause(
    conn: &ConnectionManager,
    keys: &Keys,
    settings: &Settings,
    entry: &str,
) -> Result<PauseState, ControlError> {
    find_entry(settings, entry)?;
    let _: i64 = redis::cmd("HSETNX")
        .arg(keys.schedule_control(entry))
        .arg(PAUSED_MS)
        .arg(now_ms())
        .query_async(&mut conn.clone())
        .await?;
    Ok(read_pause(conn, keys, entry).await?)
}

/// Resumes an entry of the table; resuming one that is not paused changes nothing. Returns the
/// state after.
pub async fn resume(
    conn: &ConnectionManager,
    keys: &Keys,
    settings: &Settings,
    entry: &str,
) -> Result<PauseState, ControlError> {
    find_entry(settings, entry)?;
    let key = keys.schedule_control(entry);
    let was_paused: i64 = redis::cmd("HDEL")
        .arg(&key)
        .arg(PAUSED_MS)
        .query_async(&mut conn.clone())
        .await?;
    if was_paused == 1 {
        let _: i64 = redis::cmd("HSET")
            .arg(&key)
            .arg(RESUMED_MS)
            .arg(now_ms())
            .query_async(&mut conn.clone())
            .await?;
    }
    Ok(read_pause(conn, keys, entry).await?)
}

/// Enqueues the entry's job with its arguments now and records it in the history as a manual
/// run. Returns the task.
pub async fn run_now(
    producer: &Producer,
    conn: &ConnectionManager,
    keys: &Keys,
    settings: &Settings,
    entry: &str,
) -> Result<RunRecord, ControlError> {
    let spec = find_entry(settings, entry)?;
    let payload = check_args(spec.kind, &spec.args, settings)?;
    let now = now_ms();
    let task_id: TaskId = producer
        .enqueue_to(&spec.kind.name(), &payload, EnqueueOptions::default())
        .await
        .map_err(SubmitError::from)?;
    let run = RunRecord {
        tick_ms: now,
        task_id,
        trigger: RunTrigger::Manual,
        enqueued_ms: now,
    };
    if let Err(e) = push_run(conn, keys, entry, &run).await {
        // The task is queued; only the history misses it.
        tracing::warn!(entry, task_id = %task_id, error = %e, "manual run not recorded in the history");
    }
    Ok(run)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
