//! The recent runs of a schedule entry: a bounded LIST per entry (`Keys::schedule_history`),
//! newest first, one record per enqueued run (tick time, task id, what triggered it). What became
//! of each run is looked up from its task record at read time, never stored twice.

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::{
    jobs::Queue,
    keys::Keys,
    queue::{QueueError, QueueRedis, TaskId, TaskInfo, lookup_task},
};

/// Runs kept per entry; older ones are trimmed on every push.
pub const HISTORY_LEN: usize = 50;

/// What made a run happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum RunTrigger {
    /// The beat fired the tick at its time.
    Tick,
    /// The latest scheduled time had not run (first start, downtime, a failed tick).
    CatchUp,
    /// An operator ran the entry now (`coinbeat schedule run`, `POST /v1/admin/schedules/{entry}/run`).
    Manual,
}

impl RunTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Tick => "tick",
            RunTrigger::CatchUp => "catch-up",
            RunTrigger::Manual => "manual",
        }
    }
}

/// One run as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The tick's scheduled time (unix ms); for a manual run, when it was asked for.
    pub tick_ms: i64,
    pub task_id: TaskId,
    pub trigger: RunTrigger,
    /// When the task was enqueued (unix ms).
    pub enqueued_ms: i64,
}

/// A run and what became of its task.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStatus {
    pub run: RunRecord,
    /// The task as its queue knows it now; `None` once its record is pruned.
    pub task: Option<TaskInfo>,
}

impl RunStatus {
    /// The task's status, or `expired` once its record is pruned.
    pub fn outcome(&self) -> &'static str {
        self.task.as_ref().map_or("expired", |t| t.status.as_str())
    }
}

/// Records a run at the head of the entry's history and trims it to [`HISTORY_LEN`], in one
/// transaction.
pub async fn push_run(
    conn: &ConnectionManager,
    keys: &Keys,
    entry: &str,
    run: &RunRecord,
) -> Result<(), redis::RedisError> {
    let key = keys.schedule_history(entry);
    let json = serde_json::to_string(run).expect("run records serialize");
    redis::pipe()
        .atomic()
        .cmd("LPUSH")
        .arg(&key)
        .arg(json)
        .ignore()
        .cmd("LTRIM")
        .arg(&key)
        .arg(0)
        .arg(HISTORY_LEN as i64 - 1)
        .ignore()
        .query_async(&mut conn.clone())
        .await
}

/// The entry's newest `limit` runs (at most [`HISTORY_LEN`]), newest first. A record that does
/// not parse (written by a newer version) is left out.
pub async fn read_runs(
    conn: &ConnectionManager,
    keys: &Keys,
    entry: &str,
    limit: usize,
) -> Result<Vec<RunRecord>, redis::RedisError> {
    let limit = limit.clamp(1, HISTORY_LEN);
    let raw: Vec<String> = redis::cmd("LRANGE")
        .arg(keys.schedule_history(entry))
        .arg(0)
        .arg(limit as i64 - 1)
        .query_async(&mut conn.clone())
        .await?;
    Ok(raw
        .iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect())
}

/// The entry's newest `limit` runs, each with its task looked up in `queue` (on `queues`) now.
pub async fn read_history(
    conn: &ConnectionManager,
    queues: &QueueRedis,
    keys: &Keys,
    entry: &str,
    queue: Queue,
    limit: usize,
) -> Result<Vec<RunStatus>, QueueError> {
    let runs = read_runs(conn, keys, entry, limit).await?;
    let name = queue.name();
    let queue_conn = queues.conn(&name);
    let lookups = runs
        .iter()
        .map(|run| lookup_task(&queue_conn, keys, &name, run.task_id));
    let tasks = futures::future::try_join_all(lookups).await?;
    Ok(runs
        .into_iter()
        .zip(tasks)
        .map(|(run, task)| RunStatus { run, task })
        .collect())
}
