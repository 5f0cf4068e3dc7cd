//! [`CallerTasks`]: the tasks each caller of the enqueue routes has waiting or running, so the
//! API can cap them (`api.max_waiting_per_caller`). Single flight stops a caller from doubling
//! identical work; this stops one from filling the queues (and spending the upstream quotas the
//! beat needs) with work that differs a little each time.
//!
//! One ZSET per caller (`Keys::caller_tasks`) of the meta keys of its tasks. [`CallerTasks::admit`]
//! forgets the finished ones and says whether there is room; [`CallerTasks::record`] adds a new
//! task. The two are separate calls (the id exists only once the task is enqueued), so
//! concurrent requests of one caller can pass the cap by their number; the cap is a bound on
//! abuse, not an exact count.

use redis::aio::ConnectionManager;

use super::{QueueError, TaskId, now_ms, scripts::CALLER_TASKS};
use crate::{jobs::QueueName, keys::Keys};

/// How long a caller's set outlives its last recorded task: a task still waiting after a day
/// no longer counts against its caller.
const EXPIRY_SECS: u64 = 24 * 3600;

/// The per-caller task sets of one deployment. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CallerTasks {
    conn: ConnectionManager,
    keys: Keys,
}

/// Whether a caller may enqueue one more task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub admitted: bool,
    /// The caller's tasks still waiting or running.
    pub held: u64,
}

impl CallerTasks {
    pub fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys }
    }

    /// Forgets `caller`'s finished tasks and says whether it has fewer than `cap` left.
    pub async fn admit(&self, caller: &str, cap: usize) -> Result<Admission, QueueError> {
        let (admitted, held): (u8, u64) = CALLER_TASKS
            .key(self.keys.caller_tasks(caller))
            .arg("admit")
            .arg(cap)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(Admission {
            admitted: admitted == 1,
            held,
        })
    }

    /// Counts task `id` of `queue` against `caller` until it is done or dead.
    pub async fn record(
        &self,
        caller: &str,
        queue: &QueueName,
        id: TaskId,
    ) -> Result<(), QueueError> {
        let (_, _): (u8, u64) = CALLER_TASKS
            .key(self.keys.caller_tasks(caller))
            .arg("record")
            .arg(self.keys.queue(queue).meta(&id.to_string()))
            .arg(now_ms())
            .arg(EXPIRY_SECS)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
