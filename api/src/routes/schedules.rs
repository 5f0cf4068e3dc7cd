//! `GET /v1/schedules`: the schedule table with each entry's run record (last and next run) and
//! the outcome of its last run.

use axum::{
    Extension, Json,
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    jobs::Queue,
    queue::TaskId,
    schedule_control::{PauseState, read_pause},
    schedule_state::{ScheduleStatus, read_schedule_status},
    settings::{Role, TierEntry},
    watched_wallets,
};
use futures::future::try_join_all;
use serde::Serialize;
use serde_json::Value;

use crate::{ApiError, AppState, auth::Caller};

/// One entry as configured, and what the beat recorded about it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ScheduleView<'a> {
    name: &'a str,
    cron: &'a str,
    kind: Queue,
    #[schema(value_type = Value)]
    args: &'a Value,
    enabled: bool,
    /// Entries made from `[prices.tiers]`: the tier, its interval as scheduled and as
    /// configured, and whether the plan check stretched it to fit the providers' limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<TierEntry>)]
    tier: Option<&'a TierEntry>,
    /// Paused by an operator: the beat skips it until it is resumed.
    paused: bool,
    paused_at: Option<DateTime<Utc>>,
    /// The scheduled time of the newest tick enqueued; `null` if it never ran.
    last_tick: Option<DateTime<Utc>>,
    last_task_id: Option<TaskId>,
    last_enqueued_at: Option<DateTime<Utc>>,
    next_tick: Option<DateTime<Utc>>,
    /// `pending`, `running`, `done`, `failed` (waiting for a retry), `dead`, or `expired` (the
    /// task record was pruned after its retention); `null` if it never ran.
    #[schema(value_type = Option<String>)]
    last_outcome: Option<&'static str>,
    /// When the last task finished, if it did and its record is kept.
    last_finished_at: Option<DateTime<Utc>>,
    /// The last task's error, if its last attempt failed.
    last_error: Option<String>,
}

/// `GET /v1/schedules`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SchedulesResponse<'a> {
    schedules: Vec<ScheduleView<'a>>,
}

fn at(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

/// `GET /v1/schedules`: `{"schedules": [...]}` in name order: the configured table and the
/// watch entries of wallets added in Redis (`/v1/admin/wallets`), which the beat runs too.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let mut table = state
        .redis(watched_wallets::effective_schedule(
            state.conn(),
            state.keys(),
            state.settings(),
        ))
        .await?;
    // Which wallets are watched is the admin's to know (`GET /v1/admin/wallets`): their
    // entries name the address, and their last task holds the analysis.
    if !caller.has(Role::Admin) {
        table.retain(|_, entry| entry.kind != Queue::Wallet);
    }
    let table = &table;
    let reads = table.iter().map(|(name, entry)| {
        read_schedule_status(
            state.conn(),
            state.queue_redis(),
            state.keys(),
            name,
            entry.kind,
        )
    });
    let records = state.redis(try_join_all(reads)).await?;
    let pauses: Vec<PauseState> = state
        .redis(try_join_all(
            table
                .keys()
                .map(|name| read_pause(state.conn(), state.keys(), name)),
        ))
        .await?;
    let schedules = table
        .iter()
        .zip(records)
        .zip(pauses)
        .map(|(((name, entry), status), pause)| {
            let ScheduleStatus { record, last_task } = &status;
            ScheduleView {
                name,
                cron: &entry.cron,
                kind: entry.kind,
                args: &entry.args,
                enabled: entry.enabled,
                tier: entry.tier.as_ref(),
                paused: pause.is_paused(),
                paused_at: at(pause.paused_ms),
                last_tick: at(record.last_tick_ms),
                last_task_id: record.last_task_id,
                last_enqueued_at: at(record.last_enqueued_ms),
                next_tick: at(record.next_tick_ms),
                last_outcome: status.last_outcome(),
                last_finished_at: last_task
                    .as_ref()
                    .and_then(|t| t.finished_at)
                    .filter(|ms| *ms > 0)
                    .and_then(|ms| at(Some(ms as i64))),
                last_error: last_task.as_ref().and_then(|t| t.last_error.clone()),
            }
        })
        .collect();
    Ok(Json(SchedulesResponse { schedules }).into_response())
}
