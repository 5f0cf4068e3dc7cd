//! The run record of a schedule entry: when its last tick was enqueued, as which task, and when
//! it runs next. The scheduler writes it (one HASH per entry, `Keys::schedule_entry`) and reads it
//! to decide on catch-up; the API reports it at `GET /v1/schedules`.

use redis::aio::ConnectionManager;
use serde::Serialize;

use crate::{
    jobs::Queue,
    keys::Keys,
    queue::{QueueError, QueueRedis, TaskId, TaskInfo, lookup_task},
};

/// HASH field: the scheduled time (unix ms) of the newest tick enqueued. Only ever increases.
pub const LAST_TICK_MS: &str = "last_tick_ms";
/// HASH field: the task that tick enqueued (whichever scheduler replica won the claim).
pub const LAST_TASK_ID: &str = "last_task_id";
/// HASH field: when (unix ms, wall clock of the replica that enqueued) that task was enqueued.
pub const LAST_ENQUEUED_MS: &str = "last_enqueued_ms";
/// HASH field: the next scheduled time (unix ms) after the last tick; absent when the cron
/// expression never fires again.
pub const NEXT_TICK_MS: &str = "next_tick_ms";

/// What Redis knows about one schedule entry's runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScheduleRecord {
    /// Scheduled time (unix ms) of the newest tick that was enqueued; catch-up compares with it.
    pub last_tick_ms: Option<i64>,
    pub last_task_id: Option<TaskId>,
    pub last_enqueued_ms: Option<i64>,
    pub next_tick_ms: Option<i64>,
}

/// Reads the run record of `entry`; `None` when the entry never ran against this Redis.
///
/// A field that is missing or does not parse reads as absent, which for `last_tick_ms` means
/// "never ran" (the scheduler's record script treats it the same way).
pub async fn read_schedule_record(
    conn: &ConnectionManager,
    keys: &Keys,
    entry: &str,
) -> Result<Option<ScheduleRecord>, redis::RedisError> {
    let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(keys.schedule_entry(entry))
        .query_async(&mut conn.clone())
        .await?;
    if fields.is_empty() {
        return Ok(None);
    }
    let ms = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
    Ok(Some(ScheduleRecord {
        last_tick_ms: ms(LAST_TICK_MS),
        last_task_id: fields.get(LAST_TASK_ID).and_then(|v| v.parse().ok()),
        last_enqueued_ms: ms(LAST_ENQUEUED_MS),
        next_tick_ms: ms(NEXT_TICK_MS),
    }))
}

/// An entry's run record and what became of the last task it enqueued.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleStatus {
    pub record: ScheduleRecord,
    /// The last task as its queue knows it now; `None` when the entry never ran or the task's
    /// record is gone (finished tasks are pruned after the queue's retention).
    pub last_task: Option<TaskInfo>,
}

impl ScheduleStatus {
    /// The last run's outcome as operators read it: the task's status, or `expired` when the
    /// entry ran but its task record was pruned, or `None` when it never ran.
    pub fn last_outcome(&self) -> Option<&'static str> {
        match (&self.last_task, self.record.last_task_id) {
            (Some(task), _) => Some(task.status.as_str()),
            (None, Some(_)) => Some("expired"),
            (None, None) => None,
        }
    }
}

/// Reads the run record of `entry` (whose jobs go to `queue`, on `queues`) and looks its last
/// task up.
pub async fn read_schedule_status(
    conn: &ConnectionManager,
    queues: &QueueRedis,
    keys: &Keys,
    entry: &str,
    queue: Queue,
) -> Result<ScheduleStatus, QueueError> {
    let record = read_schedule_record(conn, keys, entry)
        .await?
        .unwrap_or_default();
    let last_task = match record.last_task_id {
        Some(id) => lookup_task(&queues.conn(&queue.name()), keys, &queue.name(), id).await?,
        None => None,
    };
    Ok(ScheduleStatus { record, last_task })
}
