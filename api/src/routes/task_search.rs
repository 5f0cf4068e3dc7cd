//! `GET /v1/tasks?args=&error=&queue=&state=&since=&until=&limit=`: tasks across every queue
//! (or one) whose arguments or last error contain a text, in the states asked for, finished
//! within a time range; `?id=` finds one task by its id. Those not finished come first (in
//! flight, waiting, delayed), then the finished ones, newest first.
//!
//! - `args`: a substring of the task's arguments (its payload's JSON), ignoring case. Arguments
//!   are shown to admins only, so searching them needs `admin` too (403 otherwise).
//! - `error`: a substring of the last error, ignoring case.
//! - `state`: `waiting`, `delayed`, `in_flight`, `done`, `dead`, comma-separated (default all).
//! - `since`, `until`: RFC 3339 or unix seconds; when a done or dead task finished.
//! - `limit`: 1 to 1000 (default 50).
//!
//! The queues are searched side by side within [`BUDGET`]; a search that runs out of time
//! answers what it found with `"complete": false`.

use std::time::{Duration, Instant};

use axum::{
    Extension, Json,
    extract::{Query, State, rejection::QueryRejection},
};
use chrono::Utc;
use coinbeat_shared::{
    jobs::Queue,
    queue::{TaskId, TaskSearch, find_task, search_queue},
    settings::Role,
};
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};

use super::{
    price_history::{instant_schema, parse_instant},
    task_row::TaskRow,
};
use crate::{ApiError, AppState, auth::Caller};

/// How long a search may take before it answers what it has.
pub const BUDGET: Duration = Duration::from_millis(1_500);
const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 1_000;
/// The longest text searched for.
const MAX_NEEDLE: usize = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchQuery {
    /// A substring of the arguments, ignoring case (admin only).
    #[param(value_type = Option<String>, max_length = 200)]
    args: Option<String>,
    /// A substring of the last error, ignoring case.
    #[param(value_type = Option<String>, max_length = 200)]
    error: Option<String>,
    /// One queue (default: every queue).
    #[param(value_type = Option<Queue>)]
    queue: Option<String>,
    /// States, comma-separated: waiting, delayed, in_flight, done, dead (default: all).
    #[param(value_type = Option<String>, pattern = "^(waiting|delayed|in_flight|done|dead)(,(waiting|delayed|in_flight|done|dead))*$")]
    state: Option<String>,
    /// Finished at or after: RFC 3339 or unix seconds.
    #[param(schema_with = instant_schema)]
    since: Option<String>,
    /// Finished at or before: RFC 3339 or unix seconds.
    #[param(schema_with = instant_schema)]
    until: Option<String>,
    /// Tasks wanted, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// One task by its id (the other filters then do not apply).
    #[param(value_type = Option<TaskId>)]
    id: Option<String>,
}

/// `GET /v1/tasks`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchView {
    tasks: Vec<TaskRow>,
    /// Finished tasks looked at.
    examined: u64,
    /// False when the time ran out first: what was found so far.
    complete: bool,
    took_ms: u64,
}

/// `GET /v1/tasks`: 422 for a filter that cannot be read, 403 for `args` without `admin`.
pub async fn search(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<SearchView>, ApiError> {
    let started = Instant::now();
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let admin = caller.has(Role::Admin);
    if query.args.is_some() && !admin {
        return Err(match caller.role {
            Some(have) => ApiError::Forbidden {
                need: Role::Admin,
                have,
            },
            None => ApiError::Unauthenticated { need: Role::Admin },
        });
    }
    if let Some(raw) = query.id.as_deref() {
        let id: TaskId = raw.trim().parse()?;
        let found = state
            .redis(find_task(state.queue_redis(), state.keys(), id))
            .await?;
        let tasks = found
            .into_iter()
            .filter_map(|task| {
                let queue: Queue = task.queue.as_str().parse().ok()?;
                let state = task.state(Utc::now().timestamp_millis().max(0) as u64);
                Some(TaskRow::new(queue, state, task.into(), admin))
            })
            .collect();
        return Ok(Json(SearchView {
            tasks,
            examined: 0,
            complete: true,
            took_ms: started.elapsed().as_millis() as u64,
        }));
    }
    let search = TaskSearch {
        states: match query.state.as_deref() {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .map_err(|e: coinbeat_shared::queue::UnknownTaskState| {
                            ApiError::InvalidQuery(e.to_string())
                        })
                })
                .collect::<Result<_, _>>()?,
        },
        args: needle("args", query.args)?,
        error: needle("error", query.error)?,
        since_ms: ms("since", query.since.as_deref())?,
        until_ms: ms("until", query.until.as_deref())?,
        limit: match query.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| ApiError::InvalidLimit(raw.to_owned()))?,
        },
    };
    // A filter, not a path: a queue that is not one is a query that cannot be used (422).
    let queues: Vec<Queue> = match query.queue.as_deref() {
        Some(raw) => vec![raw.parse().map_err(|_| {
            ApiError::InvalidQuery(format!(
                "queue must be one of {}, got {raw:?}",
                Queue::ALL.map(|q| q.as_str()).join(", ")
            ))
        })?],
        None => Queue::ALL.to_vec(),
    };
    let deadline = started + BUDGET;
    let keys = state.keys();
    let searches = queues.iter().map(|queue| {
        let (name, search) = (queue.name(), &search);
        let conn = state.queue_conn(&name);
        async move {
            let found = search_queue(&conn, keys, &name, search, deadline).await?;
            Ok::<_, coinbeat_shared::queue::QueueError>((*queue, found))
        }
    });
    let results = state.redis_within(BUDGET, try_join_all(searches)).await?;
    let mut examined = 0;
    let mut complete = true;
    let mut tasks = Vec::new();
    for (queue, found) in results {
        examined += found.examined;
        complete &= found.complete;
        tasks.extend(
            found
                .tasks
                .into_iter()
                .map(|(state, task)| TaskRow::new(queue, state, task, admin)),
        );
    }
    tasks.sort_by_key(TaskRow::newest_first);
    tasks.truncate(search.limit as usize);
    Ok(Json(SearchView {
        tasks,
        examined,
        complete,
        took_ms: started.elapsed().as_millis() as u64,
    }))
}

fn needle(name: &str, raw: Option<String>) -> Result<Option<String>, ApiError> {
    match raw {
        Some(text) if text.chars().count() > MAX_NEEDLE => Err(ApiError::InvalidQuery(format!(
            "{name} is at most {MAX_NEEDLE} characters"
        ))),
        Some(text) if text.contains('\0') => Err(ApiError::InvalidQuery(format!(
            "{name} may not hold a NUL character"
        ))),
        Some(text) if text.is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn ms(name: &str, raw: Option<&str>) -> Result<Option<u64>, ApiError> {
    raw.map(|raw| parse_instant(name, raw).map(|at| at.timestamp_millis().max(0) as u64))
        .transpose()
}
