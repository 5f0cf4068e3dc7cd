//! One schedule entry: its recent runs (`GET /v1/schedules/{entry}/runs`, an operational read)
//! and the operator's hand on it (admin): `POST /v1/admin/schedules/{entry}/pause`,
//! `.../resume`, `.../run`. 404 `unknown_schedule` for a name the table does not have; a
//! watched wallet's entry is unknown to every caller but an admin, as in `GET /v1/schedules`.

use axum::{
    Extension, Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    jobs::Queue,
    queue::{TaskId, TaskStatus},
    schedule_control::{ControlError, PauseState, find_entry, pause, resume, run_now},
    schedule_history::{HISTORY_LEN, RunTrigger, read_history},
    settings::Role,
};
use serde::{Deserialize, Serialize};

use super::at_ms;
use crate::on_demand::Accepted;
use crate::{ApiError, AppState, auth::Caller};

fn entry_of(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

fn at(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

/// Whether a schedule entry is paused, and since when.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PauseView<'a> {
    name: &'a str,
    paused: bool,
    paused_at: Option<DateTime<Utc>>,
    resumed_at: Option<DateTime<Utc>>,
}

fn pause_view(entry: &str, state: PauseState) -> Response {
    Json(PauseView {
        name: entry,
        paused: state.is_paused(),
        paused_at: at(state.paused_ms),
        resumed_at: at(state.resumed_ms),
    })
    .into_response()
}

/// A schedule entry's run, enqueued now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunNow {
    entry: String,
    trigger: RunTrigger,
    id: TaskId,
    queue: Queue,
    status: TaskStatus,
    status_url: String,
}

/// The recent runs of a schedule entry, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunsResponse {
    name: String,
    runs: Vec<RunView>,
}

/// `POST /v1/admin/schedules/{entry}/pause`: the beat skips the entry (ticks and catch-up)
/// until it is resumed. Pausing a paused entry keeps its first pause time.
pub async fn pause_entry(
    State(state): State<AppState>,
    entry: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let entry = entry_of(entry)?;
    let after = state
        .redis(pause(state.conn(), state.keys(), state.settings(), &entry))
        .await?;
    Ok(pause_view(&entry, after))
}

/// `POST /v1/admin/schedules/{entry}/resume`: the entry runs again from its next tick; ticks that
/// fell while it was paused are not replayed.
pub async fn resume_entry(
    State(state): State<AppState>,
    entry: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let entry = entry_of(entry)?;
    let after = state
        .redis(resume(state.conn(), state.keys(), state.settings(), &entry))
        .await?;
    Ok(pause_view(&entry, after))
}

/// `POST /v1/admin/schedules/{entry}/run`: 202 with the task, its job enqueued now with the
/// entry's args and recorded as a manual run (also while paused).
pub async fn run_entry(
    State(state): State<AppState>,
    entry: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let entry = entry_of(entry)?;
    let kind = find_entry(state.settings(), &entry)?.kind;
    let run = state
        .redis(run_now(
            state.producer(),
            state.conn(),
            state.keys(),
            state.settings(),
            &entry,
        ))
        .await
        .map_err(|e| match e {
            ApiError::RedisTimeout(after) => ApiError::EnqueueTimeout(after),
            other => other,
        })?;
    let accepted = Accepted::new(run.task_id, kind, TaskStatus::Pending, false);
    Ok(accepted.respond(RunNow {
        entry,
        trigger: run.trigger,
        id: accepted.id,
        queue: accepted.queue,
        status: accepted.status,
        status_url: accepted.status_url.clone(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RunsQuery {
    /// Runs, 1 to 1000 (at most the history kept; default all of it). (Read as text, so a
    /// non-number gets the same 422 as an out-of-range number.)
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RunView {
    /// The tick's scheduled time; for a manual run, when it was asked for.
    tick: Option<DateTime<Utc>>,
    task_id: TaskId,
    trigger: RunTrigger,
    enqueued_at: Option<DateTime<Utc>>,
    /// The task's status now, or `expired` once its record is pruned.
    #[schema(value_type = String)]
    outcome: &'static str,
    finished_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

/// `GET /v1/schedules/{entry}/runs[?limit=N]`: the newest `N` runs (1..=1000; the history keeps
/// the last 50, which is also the default), each with its task's outcome read now.
pub async fn runs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    entry: Result<Path<String>, PathRejection>,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let entry = entry_of(entry)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = match query.limit.as_deref() {
        None => HISTORY_LEN,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (1..=1_000).contains(&n) => n.min(HISTORY_LEN),
            _ => return Err(ApiError::InvalidLimit(raw.to_owned())),
        },
    };
    let kind = if caller.has(Role::Admin) {
        find_entry(state.settings(), &entry)?.kind
    } else {
        let table = &state.settings().schedule;
        match table.get(&entry) {
            Some(found) if found.kind != Queue::Wallet => found.kind,
            _ => Err(ControlError::UnknownEntry {
                name: entry.clone(),
                known: table
                    .iter()
                    .filter(|(_, e)| e.kind != Queue::Wallet)
                    .map(|(name, _)| name.clone())
                    .collect(),
            })?,
        }
    };
    let history = state
        .redis(read_history(
            state.conn(),
            state.queue_redis(),
            state.keys(),
            &entry,
            kind,
            limit,
        ))
        .await?;
    let runs: Vec<RunView> = history
        .into_iter()
        .map(|h| RunView {
            tick: at(Some(h.run.tick_ms)),
            task_id: h.run.task_id,
            trigger: h.run.trigger,
            enqueued_at: at(Some(h.run.enqueued_ms)),
            outcome: h.outcome(),
            finished_at: h.task.as_ref().and_then(|t| at_ms(t.finished_at)),
            last_error: h.task.and_then(|t| t.last_error),
        })
        .collect();
    Ok(Json(RunsResponse { name: entry, runs }).into_response())
}
