//! `POST /v1/tasks` (enqueue work on demand) and `GET /v1/tasks/{id}` (what became of it).

use axum::{
    Extension, Json,
    extract::{Path, State, rejection::PathRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    jobs::{
        CatalogueJob, CleanupJob, HealthJob, MarketJob, PricesJob, Queue, QueueName, WalletJob,
    },
    queue::{EnqueueOptions, TaskId, TaskInfo, TaskStatus, find_task},
    settings::Role,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type},
    },
};

pub use crate::on_demand::{Accepted, Fresh};
use crate::{
    ApiError, AppState, JsonBody,
    auth::Caller,
    on_demand::{self, Outcome},
};

/// Longest accepted idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 256;

/// The body of `POST /v1/tasks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The job kind, which is also its queue: `prices`, `market`, `wallet`, `health`, `cleanup`.
    pub kind: String,
    /// The kind's arguments; absent or `null` means none (e.g. the tracked set for `prices`).
    #[serde(default)]
    pub args: Value,
    /// While held (the queue's `idempotency_ttl_secs`), a second request with the same key is
    /// refused with 409 and the first task's id. With a key, requests are deduplicated by that
    /// key only, not by their args.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Enqueue even when fresh data is cached (an identical task already waiting or running is
    /// still joined rather than doubled).
    #[serde(default)]
    pub force: bool,
}

/// The document's schema of [`SubmitRequest`]: one shape per kind, each with its own `args`
/// (the job payload `check_args` reads, `coinbeat_shared::jobs`).
impl PartialSchema for SubmitRequest {
    fn schema() -> RefOr<Schema> {
        let variant = |kind: Queue, args: RefOr<Schema>, args_required: bool| {
            let args: RefOr<Schema> = if args_required {
                args
            } else {
                // Absent or `null`: no arguments (the tracked set, the defaults).
                OneOfBuilder::new()
                    .item(args)
                    .item(ObjectBuilder::new().schema_type(Type::Null))
                    .into()
            };
            let mut object = ObjectBuilder::new()
                .property(
                    "kind",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([kind.as_str()])),
                )
                .required("kind")
                .property("args", args)
                .property(
                    "idempotency_key",
                    ObjectBuilder::new()
                        // `null` is no key, as leaving it out is.
                        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                        .min_length(Some(1))
                        .max_length(Some(MAX_IDEMPOTENCY_KEY_CHARS))
                        .description(Some(
                            "While held (the queue's `idempotency_ttl_secs`), a second request \
                             with this key is refused with 409 and the first task's id.",
                        )),
                )
                .property(
                    "force",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .description(Some("Enqueue even when fresh data is cached.")),
                )
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if args_required {
                object = object.required("args");
            }
            object.title(Some(format!("{kind}_task")))
        };
        let reference = |name: std::borrow::Cow<'static, str>| {
            RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
        };
        OneOfBuilder::new()
            .item(variant(Queue::Prices, reference(PricesJob::name()), false))
            .item(variant(Queue::Market, reference(MarketJob::name()), false))
            .item(variant(Queue::Wallet, reference(WalletJob::name()), true))
            .item(variant(Queue::Health, reference(HealthJob::name()), false))
            .item(variant(
                Queue::Cleanup,
                reference(CleanupJob::name()),
                false,
            ))
            .item(variant(
                Queue::Catalogue,
                reference(CatalogueJob::name()),
                false,
            ))
            .description(Some(
                "A job: its `kind` (which is also its queue) and that kind's `args`.",
            ))
            .into()
    }
}

impl ToSchema for SubmitRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        fn add<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            T::schemas(schemas);
            schemas.push((T::name().into_owned(), T::schema()));
        }
        add::<PricesJob>(schemas);
        add::<MarketJob>(schemas);
        add::<WalletJob>(schemas);
        add::<HealthJob>(schemas);
        add::<CleanupJob>(schemas);
        add::<CatalogueJob>(schemas);
    }
}

/// What `POST /v1/tasks` answers: the task (new, or an identical one joined), or the fresh
/// data that made it pointless.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SubmitAnswer {
    Task(Accepted),
    Fresh(Fresh),
}

/// `POST /v1/tasks`: work on demand, without waste ([`on_demand`]):
///
/// - 202 `{"id", "queue", "status": "pending", "status_url", "deduplicated": false}` and a
///   `Location` header for a new task;
/// - 200 with `"deduplicated": true` and the id of an identical task still waiting or running
///   (nothing enqueued);
/// - 200 `{"fresh": true, "kind", "data"}` when the data asked for is cached and fresh (prices:
///   every symbol asked, or the tracked set; wallet: its analysis), unless `"force": true`.
///
/// 422 for an unknown kind or bad args, 429 when the queue is full (with `Retry-After`), 409 for
/// a held idempotency key.
pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(request): JsonBody<SubmitRequest>,
) -> Result<Response, ApiError> {
    let kind: Queue = request.kind.parse()?;
    if let Some(key) = &request.idempotency_key
        && (key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS)
    {
        return Err(ApiError::InvalidBody(format!(
            "`idempotency_key` must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )));
    }
    let options = EnqueueOptions {
        idempotency_key: request.idempotency_key,
        ..EnqueueOptions::default()
    };
    match on_demand::request(&state, &caller, kind, &request.args, request.force, options).await? {
        Outcome::Fresh(data) => Ok(on_demand::fresh_response(kind, data)),
        Outcome::Task(accepted) => Ok(accepted.respond(&accepted)),
    }
}

/// A task as the API shows it; times are RFC 3339 UTC, like every time in the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    id: TaskId,
    queue: QueueName,
    status: TaskStatus,
    /// Attempts finished so far.
    attempts: u32,
    max_attempts: u32,
    /// The job's arguments; shown to admins only (a wallet job's names a wallet, and the
    /// admin routes are where payloads are seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Value>,
    /// The handler's result, once done; a wallet job's (the analysis) to admins only.
    result: Option<Value>,
    last_error: Option<String>,
    enqueued_at: Option<DateTime<Utc>>,
    /// When it may run (or next runs, after a transient failure).
    run_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// The worker holding it, while running (its name carries host and pid: not shown to a
    /// caller without a token).
    worker: Option<String>,
}

impl TaskView {
    /// The task as `caller` may see it.
    pub(crate) fn for_caller(task: TaskInfo, caller: &Caller) -> Self {
        let admin = caller.has(Role::Admin);
        let wallet = task.queue.as_str() == Queue::Wallet.as_str();
        let mut view = Self::from(task);
        if !admin {
            view.payload = None;
            if wallet {
                view.result = None;
            }
        }
        if !caller.is_known() {
            view.worker = None;
        }
        view
    }
}

impl From<TaskInfo> for TaskView {
    fn from(t: TaskInfo) -> Self {
        let at = |ms: Option<u64>| {
            ms.filter(|ms| *ms > 0)
                .and_then(|ms| DateTime::from_timestamp_millis(ms as i64))
        };
        Self {
            id: t.id,
            queue: t.queue,
            status: t.status,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            payload: Some(t.payload),
            result: t.result,
            last_error: t.last_error,
            enqueued_at: at(t.enqueued_at),
            run_at: at(t.run_at),
            finished_at: at(t.finished_at),
            worker: t.worker,
        }
    }
}

/// `GET /v1/tasks/{id}`: the task, looked up in every queue at once (an id does not say its
/// queue). 422 `invalid_task_id` for something that is not a ULID, 404 `task_not_found` for
/// an id no queue knows.
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id: TaskId = raw.parse()?;
    let task = state
        .redis(find_task(state.queue_redis(), state.keys(), id))
        .await?
        .ok_or(ApiError::TaskNotFound(id))?;
    Ok(Json(TaskView::for_caller(task, &caller)).into_response())
}
