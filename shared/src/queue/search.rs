//! Searching a queue's tasks: by a substring of their arguments, of their last error, by state
//! and by when they finished (`search.lua`).
//!
//! Nothing extra is stored for it. The queue's own structures narrow a search (the finished
//! zset orders done and dead tasks by finish time, the done set tells them apart, the states
//! that are not finished are bounded by the queue's cap), and within that range the payloads
//! are read a thousand per command and matched in Lua. A step examines at most [`STEP`]
//! finished tasks, so Redis is never held for long; [`search_queue`] steps on until it has
//! what was asked for, the range is done, or its deadline passes (then it says so).
//! BENCHMARKS.md ("Search") has what a million finished tasks cost.

use std::time::Instant;

use super::{QueueError, RedisConn, TaskState, TaskSummary, scripts::SEARCH};
use crate::{jobs::QueueName, keys::Keys};

/// Finished tasks one script call examines.
pub const STEP: u64 = 10_000;

/// What to look for in one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSearch {
    /// The states to look in (all when empty).
    pub states: Vec<TaskState>,
    /// A substring of the arguments (the payload's JSON text), matched ignoring case.
    pub args: Option<String>,
    /// A substring of the last error, matched ignoring case.
    pub error: Option<String>,
    /// Finished at or after (unix ms; done and dead tasks only).
    pub since_ms: Option<u64>,
    /// Finished at or before (unix ms; done and dead tasks only).
    pub until_ms: Option<u64>,
    /// The most matches wanted.
    pub limit: u64,
}

/// What a search found in one queue.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// The matches: those not finished first (in flight, waiting, delayed), then the finished
    /// ones newest first.
    pub tasks: Vec<(TaskState, TaskSummary)>,
    /// Finished tasks examined.
    pub examined: u64,
    /// False when the deadline passed before the range was searched through.
    pub complete: bool,
}

impl TaskSearch {
    fn letters(&self) -> String {
        let all = self.states.is_empty();
        TaskState::ALL
            .into_iter()
            .filter(|state| all || self.states.contains(state))
            .map(|state| match state {
                TaskState::Waiting => 'w',
                TaskState::Delayed => 'l',
                TaskState::InFlight => 'f',
                TaskState::Done => 'd',
                TaskState::Dead => 'x',
            })
            .collect()
    }
}

/// Searches `queue` for `search`, stepping through its finished tasks until enough match, none
/// are left, or `deadline` passes.
pub async fn search_queue(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    search: &TaskSearch,
    deadline: Instant,
) -> Result<SearchResult, QueueError> {
    let k = keys.queue(queue);
    let lower = |needle: &Option<String>| needle.as_deref().unwrap_or("").to_lowercase();
    let bound = |ms: Option<u64>, open: &str| ms.map_or(open.to_owned(), |ms| ms.to_string());
    let mut result = SearchResult {
        tasks: Vec::new(),
        examined: 0,
        complete: true,
    };
    let mut position: i64 = 0;
    loop {
        let wanted = search.limit.saturating_sub(result.tasks.len() as u64);
        let reply: Vec<String> = SEARCH
            .key(k.active())
            .key(k.delayed())
            .key(k.done())
            .key(k.dead())
            .key(k.finished())
            .key(k.workers())
            .key(k.data())
            .arg(search.letters())
            .arg(bound(search.since_ms, "-inf"))
            .arg(bound(search.until_ms, "+inf"))
            .arg(lower(&search.args))
            .arg(lower(&search.error))
            .arg(position)
            .arg(STEP)
            .arg(wanted)
            .arg(k.meta_prefix())
            .arg(k.inflight_prefix())
            .invoke_async(&mut conn.clone())
            .await?;
        let protocol = |what: &str| QueueError::Protocol(format!("search: {what}"));
        let [next, examined, rows @ ..] = &reply[..] else {
            return Err(protocol("short reply"));
        };
        let next: i64 = next.parse().map_err(|_| protocol("position"))?;
        result.examined += examined.parse::<u64>().map_err(|_| protocol("examined"))?;
        for row in rows.chunks_exact(TaskSummary::ROW + 1) {
            let state = row[TaskSummary::ROW]
                .parse()
                .map_err(|_| protocol("state"))?;
            if let Some(task) = TaskSummary::from_row(row, state) {
                result.tasks.push((state, task));
            }
        }
        if next < 0 || result.tasks.len() as u64 >= search.limit {
            return Ok(result);
        }
        if Instant::now() >= deadline {
            result.complete = false;
            return Ok(result);
        }
        position = next;
    }
}
