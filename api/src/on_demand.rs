//! On-demand work without waste, for every route that enqueues on a caller's request
//! (`POST /v1/tasks`, `POST /v1/wallets/{address}/analyze`):
//!
//! 1. Fresh already: a prices request whose symbols (the tracked set when none are named) are
//!    all cached and fresh, or a wallet request whose analysis is cached and fresh, is answered
//!    with that data (`"fresh": true`) and nothing is enqueued, unless the caller says
//!    `"force": true`.
//! 2. Single flight: otherwise the job is enqueued through [`submit::submit_once`], so while an
//!    identical task (same kind, same normalised args) is waiting or running, its id comes back
//!    (`"deduplicated": true`) and no second job exists. One Lua script decides, so 100
//!    concurrent identical requests get one task. A caller's own idempotency key does not
//!    bypass this.
//! 3. A cap per caller: a caller (an API key or JWT; admins are not capped) with
//!    `api.max_waiting_per_caller` tasks waiting or running gets 429 `too_many_tasks`
//!    ([`CallerTasks`]); fresh data is still answered.

use std::sync::Arc;

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use coinbeat_shared::{
    cache::Freshness,
    domain::CoinId,
    jobs::{PricesJob, Queue, WalletJob},
    queue::{CallerTasks, EnqueueOptions, TaskId, TaskStatus, lookup_task},
    settings::Role,
    submit::{self, Submitted},
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    ApiError, AppState,
    auth::Caller,
    price_json::Priced,
    routes::{prices, wallets},
};

/// What became of an on-demand request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Fresh data was cached; nothing was enqueued. The value is the data as its read route
    /// shows it.
    Fresh(Value),
    /// A task is on the queue: new, or the identical one already waiting or running.
    Task(Accepted),
}

/// A task that will do the work.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: TaskId,
    pub queue: Queue,
    pub status: TaskStatus,
    pub status_url: String,
    /// True when this is an identical task that was already waiting or running.
    pub deduplicated: bool,
    pub fresh: bool,
}

impl Accepted {
    pub fn new(id: TaskId, queue: Queue, status: TaskStatus, deduplicated: bool) -> Self {
        Self {
            id,
            queue,
            status,
            status_url: format!("/v1/tasks/{id}"),
            deduplicated,
            fresh: false,
        }
    }

    /// 202 for a new task, 200 for a deduplicated one, with `body` (which carries this) and a
    /// `Location` header naming the status URL.
    pub fn respond(&self, body: impl Serialize) -> Response {
        let status = if self.deduplicated {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        };
        (
            status,
            [(header::LOCATION, self.status_url.clone())],
            Json(body),
        )
            .into_response()
    }
}

/// The data asked for, cached and fresh: nothing was enqueued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Fresh {
    /// Always true.
    pub fresh: bool,
    /// Always false.
    pub deduplicated: bool,
    pub kind: Queue,
    /// The data as its read route shows it (`{"prices": [...]}`, a wallet's analysis).
    pub data: Value,
}

/// 200 `{"fresh": true, "deduplicated": false, "kind": ..., "data": ...}`.
pub(crate) fn fresh_response(kind: Queue, data: Value) -> Response {
    Json(Fresh {
        fresh: true,
        deduplicated: false,
        kind,
        data,
    })
    .into_response()
}

/// Serves `kind` with `args` from the cache when fresh (unless `force`), else enqueues it once.
pub(crate) async fn request(
    state: &AppState,
    caller: &Caller,
    kind: Queue,
    args: &Value,
    force: bool,
    options: EnqueueOptions,
) -> Result<Outcome, ApiError> {
    // Checked first, so bad args answer 422 before anything is read.
    let payload = known_args(state, kind, args).await?;
    if !force && let Some(data) = fresh_data(state, kind, &payload).await? {
        return Ok(Outcome::Fresh(data));
    }
    let cap = state.settings().api.max_waiting_per_caller;
    let capped = caller
        .id
        .as_deref()
        .filter(|_| cap > 0 && !caller.has(Role::Admin));
    let tasks = CallerTasks::new(
        state.conn().clone(),
        state.queue_redis().clone(),
        state.keys().clone(),
    );
    if let Some(id) = capped
        && !state.redis(tasks.admit(id, cap)).await?.admitted
    {
        return Err(ApiError::TooManyTasks { limit: cap });
    }
    let submitted = submit::submit_once(state.producer(), kind, &payload, options);
    let submitted = state.redis(submitted).await.map_err(|e| match e {
        ApiError::RedisTimeout(after) => ApiError::EnqueueTimeout(after),
        other => other,
    })?;
    let accepted = match submitted {
        Submitted::New(id) => {
            if let Some(caller) = capped {
                state.redis(tasks.record(caller, &kind.name(), id)).await?;
            }
            Accepted::new(id, kind, TaskStatus::Pending, false)
        }
        Submitted::Joined(id) => joined_task(state, kind, id).await?,
    };
    Ok(Outcome::Task(accepted))
}

/// An identical task that was already waiting or running, with its status now.
async fn joined_task(state: &AppState, kind: Queue, id: TaskId) -> Result<Accepted, ApiError> {
    let task = state
        .redis(lookup_task(
            &state.queue_conn(&kind.name()),
            state.keys(),
            &kind.name(),
            id,
        ))
        .await?;
    let status = task.map_or(TaskStatus::Pending, |t| t.status);
    Ok(Accepted::new(id, kind, status, true))
}

/// `args` checked as `submit::check_args` does, a prices job's symbols against the coin
/// catalogue as well as `[prices.coins]` (any catalogued coin can be asked for).
pub(crate) async fn known_args(
    state: &AppState,
    kind: Queue,
    args: &Value,
) -> Result<Value, ApiError> {
    // A request names at most as many coins as `GET /v1/prices` reads at once (a job of the
    // beat may hold more): ten thousand would not fit `api.max_body_bytes` anyway.
    if kind == Queue::Prices {
        for list in ["symbols", "ids"] {
            if let Some(items) = args.get(list).and_then(Value::as_array)
                && items.len() > prices::MAX_SYMBOLS_PER_REQUEST
            {
                return Err(ApiError::InvalidArgs {
                    kind,
                    message: format!(
                        "`{list}` has {} entries; at most {} per request",
                        items.len(),
                        prices::MAX_SYMBOLS_PER_REQUEST
                    ),
                });
            }
        }
    }
    let catalogue = state.catalogue().await?;
    let prices = &state.settings().prices;
    Ok(submit::check_args_knowing(
        kind,
        args,
        &prices.tiers,
        &state.settings().rates.currencies,
        &|symbol| catalogue.name_symbol(prices, symbol).is_some(),
    )?)
}

/// The cached prices of `coins`, when every one is there and fresh.
async fn fresh_prices(state: &AppState, coins: &[CoinId]) -> Result<Option<Value>, ApiError> {
    let prices::Found {
        records,
        now,
        unchecked,
    } = prices::records(state, coins).await?;
    let fresh_for = state.settings().prices.fresh_for();
    let all_fresh = records.iter().all(|r| {
        r.as_ref()
            .is_some_and(|r| !Freshness::assess(r.fetched_at, now, fresh_for).stale)
    });
    if !all_fresh {
        return Ok(None);
    }
    let records: Vec<Arc<Priced>> = records.into_iter().flatten().collect();
    let views: Vec<prices::PriceView> = records
        .iter()
        .map(|r| prices::PriceView::new(r, now, state).unchecked(unchecked))
        .collect();
    Ok(Some(json!({ "prices": views })))
}

/// The cached data that makes the job pointless, if all of it is there and fresh.
async fn fresh_data(
    state: &AppState,
    kind: Queue,
    payload: &Value,
) -> Result<Option<Value>, ApiError> {
    match kind {
        Queue::Prices => {
            let job: PricesJob = serde_json::from_value(payload.clone())
                .map_err(|e| ApiError::Internal(Box::new(e)))?;
            if let Some(ids) = job.ids {
                return fresh_prices(state, &ids).await;
            }
            let symbols = match job.symbols {
                Some(symbols) => symbols,
                None => state.tracked_symbols().await?.to_vec(),
            };
            if symbols.is_empty() {
                return Ok(None);
            }
            // A symbol no coin has is never fresh: the job decides what to say about it.
            let Some(coins) = prices::named_symbols(state, &symbols)
                .await?
                .into_iter()
                .map(|named| named.map(|n| n.id))
                .collect::<Option<Vec<_>>>()
            else {
                return Ok(None);
            };
            fresh_prices(state, &coins).await
        }
        Queue::Wallet => {
            let job: WalletJob = serde_json::from_value(payload.clone())
                .map_err(|e| ApiError::Internal(Box::new(e)))?;
            let analysis = state
                .redis(state.wallets().get(job.chain, &job.address))
                .await?;
            state
                .cache_reads()
                .count(crate::cache_reads::Kind::Wallets, analysis.is_some());
            let Some(analysis) = analysis else {
                return Ok(None);
            };
            let view = wallets::WalletView::new(&analysis, Utc::now(), state);
            if view.stale {
                return Ok(None);
            }
            Ok(Some(serde_json::to_value(view).expect("views serialize")))
        }
        Queue::Market
        | Queue::Health
        | Queue::Cleanup
        | Queue::Catalogue
        | Queue::History
        | Queue::Rates
        | Queue::Alerts => Ok(None),
    }
}
