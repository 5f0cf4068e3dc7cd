//! [`CallerTasks`]: the tasks each caller of the enqueue routes has waiting or running, so the
//! API can cap them (`api.max_waiting_per_caller`). Single flight stops a caller from doubling
//! identical work; this stops one from filling the queues (and spending the upstream quotas the
//! beat needs) with work that differs a little each time.
//!
//! One ZSET per caller (`Keys::caller_tasks`, on the deployment's Redis) of its tasks, each
//! `{queue}/{task id}`. [`CallerTasks::admit`] reads their statuses from each queue's Redis
//! (queues may live on Redis servers or a cluster of their own: no one script could read them
//! all), forgets the finished and gone ones, and says whether there is room;
//! [`CallerTasks::record`] adds a new task. These are separate calls (the id exists only once the
//! task is enqueued), so concurrent requests of one caller can pass the cap by their number; the
//! cap is a bound on abuse, not an exact count.

use std::collections::BTreeMap;

use redis::aio::ConnectionManager;

use super::{QueueError, QueueRedis, TaskId, now_ms};
use crate::{jobs::QueueName, keys::Keys};

/// How long a caller's set outlives its last recorded task: a task still waiting after a day
/// no longer counts against its caller.
const EXPIRY_SECS: u64 = 24 * 3600;

/// The per-caller task sets of one deployment. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CallerTasks {
    conn: ConnectionManager,
    queues: QueueRedis,
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
    /// The sets live on `conn` (the deployment's Redis); the tasks' records on `queues`.
    pub fn new(conn: ConnectionManager, queues: impl Into<QueueRedis>, keys: Keys) -> Self {
        Self {
            conn,
            queues: queues.into(),
            keys,
        }
    }

    /// Forgets `caller`'s finished tasks and says whether it has fewer than `cap` left.
    pub async fn admit(&self, caller: &str, cap: usize) -> Result<Admission, QueueError> {
        let set = self.keys.caller_tasks(caller);
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(&set)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await?;
        let mut by_queue: BTreeMap<QueueName, Vec<&str>> = BTreeMap::new();
        let mut gone: Vec<&str> = Vec::new();
        for member in &members {
            match parse_member(member) {
                Some((queue, _)) => by_queue.entry(queue).or_default().push(member),
                // Not a task of ours (an older layout, a queue since removed): forget it.
                None => gone.push(member),
            }
        }
        for (queue, tasks) in &by_queue {
            let k = self.keys.queue(queue);
            let mut pipe = redis::pipe();
            for member in tasks {
                let (_, id) = parse_member(member).expect("parsed above");
                pipe.cmd("HGET").arg(k.meta(id)).arg("status");
            }
            let statuses: Vec<Option<String>> =
                pipe.query_async(&mut self.queues.conn(queue)).await?;
            for (member, status) in tasks.iter().zip(statuses) {
                if status.is_none_or(|s| s == "Done" || s == "Killed") {
                    gone.push(member);
                }
            }
        }
        if !gone.is_empty() {
            let _: u64 = redis::cmd("ZREM")
                .arg(&set)
                .arg(&gone)
                .query_async(&mut self.conn.clone())
                .await?;
        }
        let held = (members.len() - gone.len()) as u64;
        Ok(Admission {
            admitted: held < cap as u64,
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
        let set = self.keys.caller_tasks(caller);
        let _: () = redis::pipe()
            .cmd("ZADD")
            .arg(&set)
            .arg(now_ms())
            .arg(format!("{queue}/{id}"))
            .ignore()
            .cmd("EXPIRE")
            .arg(&set)
            .arg(EXPIRY_SECS)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}

/// `{queue}/{task id}` → its parts, when both parse.
fn parse_member(member: &str) -> Option<(QueueName, &str)> {
    let (queue, id) = member.split_once('/')?;
    id.parse::<TaskId>().ok()?;
    Some((QueueName::parse(queue).ok()?, id))
}
