//! Searching a queue's tasks: by a substring of their arguments, of their last error, by state
//! and by when they finished.
//!
//! Three ways, by what is asked:
//! - **Error text** (with or without arguments): the errors hash, an index of task id → last
//!   error holding only the tasks that failed or were throttled (kept with the meta's
//!   `last_error` by every script that writes or deletes it), walked in `search.lua`; a search
//!   reads those tasks, not every payload.
//! - **Arguments alone**: for the finished tasks, the search logs: `ack.lua` appends a line
//!   per finished task, `<id>\t<payload>`, to a string per hour of finish time,
//!   so a search reads an hour of payloads with one GET and matches them here with `memchr`'s
//!   substring search; the few matches are looked up in one call of `search_pick.lua` per
//!   thousand (state, exact time range, what is shown). Redis turns payloads into replies at
//!   about a microsecond each (HMGET into Lua, or HSCAN), which a million would take a second
//!   for; a log is one copy. What it costs: a second copy of each finished task's payload,
//!   dropped with the records it covers. The states that are not finished (bounded by the
//!   queue's cap) are read through `search.lua`.
//! - **Neither** (a listing by state and time): `search.lua` walks the finished zset newest
//!   first by rank, after the states that are not finished.
//!
//! Every step is bounded, so Redis is never held long; [`search_queue`] stops when it has what
//! was asked for, nothing is left, or its deadline passes (then it says so). BENCHMARKS.md
//! ("search") has what a million finished tasks cost.

use std::time::Instant;

use super::{
    QueueError, RedisConn, TaskState, TaskSummary,
    scripts::{SEARCH, SEARCH_PICK},
};
use crate::{
    jobs::QueueName,
    keys::{Keys, QueueKeys},
};

/// Entries one step of `search.lua` examines.
pub const STEP: u64 = 10_000;
/// Matches a search collects at most when they come in no order (by error text, by
/// arguments within an hour), before sorting them and keeping the first
/// [`TaskSearch::limit`].
pub const MAX_COLLECTED: usize = 10_000;

/// What to look for in one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSearch {
    /// The states to look in (all when empty).
    pub states: Vec<TaskState>,
    /// A substring of the arguments (the payload's JSON text), matched ignoring ASCII case.
    pub args: Option<String>,
    /// A substring of the last error, matched ignoring ASCII case.
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
    /// The matches: those not finished first, then the finished ones newest first.
    pub tasks: Vec<(TaskState, TaskSummary)>,
    /// Entries examined: payloads read (by arguments), errors read (by error text), or
    /// finished tasks walked (a listing).
    pub examined: u64,
    /// False when the deadline passed before the search was through.
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

    fn since(&self) -> String {
        self.since_ms
            .map_or_else(|| "-inf".to_owned(), |ms| ms.to_string())
    }
}

/// ASCII only, as Lua's `string.lower` folds the texts it searches.
fn needle(text: &Option<String>) -> String {
    text.as_deref().unwrap_or("").to_ascii_lowercase()
}

fn protocol(what: &str) -> QueueError {
    QueueError::Protocol(format!("search: {what}"))
}

/// Appends the rows of a reply (ten fields each: a task's nine, then its state).
fn push_rows(result: &mut SearchResult, rows: &[String]) -> Result<(), QueueError> {
    for row in rows.chunks_exact(TaskSummary::ROW + 1) {
        let state = row[TaskSummary::ROW]
            .parse()
            .map_err(|_| protocol("state"))?;
        if let Some(task) = TaskSummary::from_row(row, state) {
            result.tasks.push((state, task));
        }
    }
    Ok(())
}

/// Searches `queue` for `search` until enough match, nothing is left, or `deadline` passes.
pub async fn search_queue(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    search: &TaskSearch,
    deadline: Instant,
) -> Result<SearchResult, QueueError> {
    let k = keys.queue(queue);
    let mut result = SearchResult {
        tasks: Vec::new(),
        examined: 0,
        complete: true,
    };
    let by_error = !needle(&search.error).is_empty();
    if !by_error && !needle(&search.args).is_empty() {
        by_arguments(conn, &k, search, deadline, &mut result).await?;
    } else {
        stepped(conn, &k, search, by_error, deadline, &mut result).await?;
    }
    // Not finished first, then finished newest first (unordered ways found them in any order).
    result.tasks.sort_by_key(|(state, task)| {
        let finished = matches!(state, TaskState::Done | TaskState::Dead);
        (
            finished,
            std::cmp::Reverse(task.finished_at.or(task.enqueued_at)),
        )
    });
    result.tasks.truncate(search.limit as usize);
    Ok(result)
}

/// `search.lua`, step after step: by error text, or a listing.
async fn stepped(
    conn: &impl RedisConn,
    k: &QueueKeys,
    search: &TaskSearch,
    by_error: bool,
    deadline: Instant,
    result: &mut SearchResult,
) -> Result<(), QueueError> {
    let mut until = search
        .until_ms
        .map_or_else(|| "+inf".to_owned(), |ms| ms.to_string());
    let mut position = String::new();
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
            .key(k.errors())
            .arg(search.letters())
            .arg(search.since())
            .arg(&until)
            .arg(needle(&search.args))
            .arg(needle(&search.error))
            .arg(&position)
            .arg(STEP)
            .arg(wanted.max(1))
            .arg(k.meta_prefix())
            .arg(k.inflight_prefix())
            .invoke_async(&mut conn.clone())
            .await?;
        let [next, examined, pinned, rows @ ..] = &reply[..] else {
            return Err(protocol("short reply"));
        };
        result.examined += examined.parse::<u64>().map_err(|_| protocol("examined"))?;
        until.clone_from(pinned);
        push_rows(result, rows)?;
        if next.is_empty() || (!by_error && result.tasks.len() as u64 >= search.limit) {
            return Ok(());
        }
        // By error, matches come unordered: past the cap, more may match than were kept.
        if (by_error && result.tasks.len() >= MAX_COLLECTED) || Instant::now() >= deadline {
            result.complete = false;
            return Ok(());
        }
        position.clone_from(next);
    }
}

/// One hour's search log, read while the one before is matched.
fn read_log(
    conn: &impl RedisConn,
    key: String,
) -> tokio::task::JoinHandle<redis::RedisResult<Option<Vec<u8>>>> {
    let mut conn = conn.clone();
    tokio::spawn(async move { redis::cmd("GET").arg(key).query_async(&mut conn).await })
}

/// The ids of the lines of `log` whose payload holds `finder`'s (lower-case) needle, ignoring
/// ASCII case.
fn matching_ids(log: &mut [u8], finder: &memchr::memmem::Finder<'_>, out: &mut Vec<String>) -> u64 {
    let mut lines = 0;
    for line in log.split_mut(|b| *b == b'\n') {
        let Some(tab) = memchr::memchr(b'\t', line) else {
            continue;
        };
        lines += 1;
        let (id, payload) = line.split_at_mut(tab);
        payload.make_ascii_lowercase();
        if finder.find(payload).is_some() {
            out.push(String::from_utf8_lossy(id).into_owned());
        }
    }
    lines
}

/// A search by arguments: the states that are not finished through `search.lua` (bounded by
/// the queue's cap), the finished tasks through the hourly search logs, newest hour first (the
/// next hour read while one is matched), each hour's matches looked up by `search_pick.lua`.
async fn by_arguments(
    conn: &impl RedisConn,
    k: &QueueKeys,
    search: &TaskSearch,
    deadline: Instant,
    result: &mut SearchResult,
) -> Result<(), QueueError> {
    let wanted = |state| search.states.is_empty() || search.states.contains(&state);
    let unfinished: Vec<TaskState> = [TaskState::Waiting, TaskState::Delayed, TaskState::InFlight]
        .into_iter()
        .filter(|state| wanted(*state))
        .collect();
    if !unfinished.is_empty() {
        let open = TaskSearch {
            states: unfinished,
            ..search.clone()
        };
        stepped(conn, k, &open, false, deadline, result).await?;
    }
    if !wanted(TaskState::Done) && !wanted(TaskState::Dead) {
        return Ok(());
    }
    let hour = |ms: u64| ms / 3_600_000;
    let hours: Vec<u64> = redis::cmd("ZRANGE")
        .arg(k.search_hours())
        .arg(
            search
                .until_ms
                .map_or_else(|| "+inf".to_owned(), |ms| hour(ms).to_string()),
        )
        .arg(
            search
                .since_ms
                .map_or_else(|| "-inf".to_owned(), |ms| hour(ms).to_string()),
        )
        .arg("BYSCORE")
        .arg("REV")
        .query_async(&mut conn.clone())
        .await?;
    let needle = needle(&search.args);
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    // One range for every lookup, pinned by the first.
    let mut until = search
        .until_ms
        .map_or_else(|| "+inf".to_owned(), |ms| ms.to_string());
    let mut hours = hours.into_iter();
    let mut reading = hours.next().map(|h| read_log(conn, k.search_log(h)));
    let mut finished = 0u64;
    while let Some(read) = reading.take() {
        let mut log = read
            .await
            .map_err(|e| QueueError::Protocol(format!("search: a read stopped: {e}")))??
            .unwrap_or_default();
        reading = hours.next().map(|h| read_log(conn, k.search_log(h)));
        let mut matched = Vec::new();
        result.examined += matching_ids(&mut log, &finder, &mut matched);
        // A log is in the order its tasks finished: newest first, so a broad needle stops as
        // soon as it has enough. A task's line is written once per time it finished (a retried
        // task twice): each id once.
        let mut seen = std::collections::HashSet::new();
        matched.reverse();
        matched.retain(|id| seen.insert(id.clone()));
        for ids in matched.chunks(1_000) {
            if finished >= search.limit {
                break;
            }
            let mut pick = SEARCH_PICK.prepare_invoke();
            pick.key(k.delayed())
                .key(k.done())
                .key(k.finished())
                .key(k.workers())
                .key(k.data())
                .arg(search.letters())
                .arg(search.since())
                .arg(&until)
                .arg(k.meta_prefix())
                .arg(k.inflight_prefix());
            for id in ids {
                pick.arg(id);
            }
            let reply: Vec<String> = pick.invoke_async(&mut conn.clone()).await?;
            let [pinned, rows @ ..] = &reply[..] else {
                return Err(protocol("short pick reply"));
            };
            until.clone_from(pinned);
            let before = result.tasks.len();
            push_rows(result, rows)?;
            finished += result.tasks[before..]
                .iter()
                .filter(|(state, _)| matches!(state, TaskState::Done | TaskState::Dead))
                .count() as u64;
        }
        // Older hours cannot hold a newer match: enough is enough.
        if finished >= search.limit {
            break;
        }
        if reading.is_some() && (result.tasks.len() >= MAX_COLLECTED || Instant::now() >= deadline)
        {
            result.complete = false;
            break;
        }
    }
    if let Some(read) = reading {
        read.abort();
    }
    Ok(())
}
