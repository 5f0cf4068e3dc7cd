//! The API's one error type and its one JSON shape:
//! `{"error": {"code": "not_found", "message": "...", "details": {...}}}` (`details` only where
//! there is something to add).
//!
//! Client errors echo what was wrong. Redis trouble answers 503 `redis_unavailable`; internal
//! errors are logged once with their cause chain and answered generically. Responses that do
//! not come from a handler (405 from the router, 413 from the body limit, the request timeout)
//! are put into the same shape by [`reshape`].

use std::{error::Error as StdError, time::Duration};

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use coinbeat_shared::{
    alerts::{AlertId, AlertIdError, StoreError, TargetError},
    cache::CacheError,
    catalogue::CatalogueError,
    domain::{
        Address, AddressError, Chain, ChainError, CoinId, CoinIdError, Currency, Symbol,
        SymbolError,
    },
    jobs::{Queue, QueueName, UnknownKind},
    queue::{DeadError, QueueError, TaskId, TaskIdError, TaskStatus, WaitingError},
    ratelimit::RateLimitError,
    schedule_control::ControlError,
    settings::Role,
    submit::SubmitError,
};
use serde::Serialize;
use serde_json::{Value, json};

/// Seconds a caller refused with "queue full" is told to wait before trying again: long enough
/// for workers to take a bite out of the backlog, short enough not to idle a client for long.
pub const QUEUE_FULL_RETRY_AFTER_SECS: u64 = 5;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no route for {method} {path}")]
    RouteNotFound { method: Method, path: String },
    /// A query string or path segment that cannot be read at all.
    #[error("{0}")]
    BadRequest(String),
    #[error("expected a JSON body with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// Well-formed JSON that does not fit the request (missing field, wrong type, unknown field).
    #[error("invalid request body: {0}")]
    InvalidBody(String),
    #[error(transparent)]
    InvalidSymbol(#[from] SymbolError),
    /// A symbol list that is empty or too long.
    #[error("{0}")]
    InvalidSymbols(String),
    /// Neither a catalogued coin (by id or symbol) nor one with a configured coin id, and
    /// nothing cached under it.
    #[error(
        "unknown coin {0:?}: no catalogued coin has that id or symbol, no coin id is configured \
         for it, and nothing is cached for it (search the catalogue with GET /v1/coins?search=)"
    )]
    UnknownCoin(String),
    /// Known (catalogued, tracked, or with a configured coin id) but with nothing cached yet.
    #[error(
        "{coin} {} but has not been fetched yet; it appears once a prices job has run for it",
        if *.tracked { "is tracked" } else { "is known" }
    )]
    NotFetchedYet {
        /// How the coin reads in a message: `BTC (bitcoin)`, or the id alone.
        coin: String,
        id: CoinId,
        symbol: Option<Symbol>,
        tracked: bool,
    },
    #[error(transparent)]
    InvalidAddress(#[from] AddressError),
    #[error(transparent)]
    InvalidChain(#[from] ChainError),
    /// A valid address with no cached analysis (never requested, or expired).
    #[error(
        "no analysis of {address} on {chain} is cached; request one with \
         POST /v1/wallets/{address}/analyze?chain={chain} and read it here once the task is done"
    )]
    WalletNotAnalysed { chain: Chain, address: Address },
    /// A `limit` that is not a whole number from 1 to 1000.
    #[error("limit must be a whole number from 1 to 1000, got {0:?}")]
    InvalidLimit(String),
    #[error(
        "no market snapshot is cached yet: the market job runs on the `market` schedule entry, \
         or request one with POST /v1/tasks {{\"kind\": \"market\", \"args\": {{\"limit\": 100}}}}"
    )]
    MarketsNotFetched,
    #[error(
        "no global market figures are cached yet: the market job runs on the `market` schedule \
         entry, or request one with POST /v1/tasks {{\"kind\": \"market\", \"args\": {{\"limit\": 100}}}}"
    )]
    GlobalNotFetched,
    #[error(transparent)]
    InvalidCoinId(#[from] CoinIdError),
    /// `?tier=` names no enabled `[prices.tiers]` entry (nor `all` or `tracked`).
    #[error("no tier is named {tier:?}; the tiers are: {known}")]
    UnknownTier { tier: String, known: String },
    /// A coin list's `cursor` is not one this API handed out.
    #[error("cursor {0:?} is not a cursor from an earlier page (pass back `next_cursor` as is)")]
    InvalidCursor(String),
    /// `?vs=` that is not a currency code.
    #[error("{0:?} is not a currency code (three letters, like eur or jpy)")]
    InvalidCurrency(String),
    /// `?vs=` a currency `rates.currencies` does not list.
    #[error("prices are not shown in {currency}: it is not one of rates.currencies")]
    UnknownCurrency {
        currency: Currency,
        known: Vec<Currency>,
    },
    /// `?vs=` a listed currency with no rate stored.
    #[error(
        "no {0} exchange rate is stored yet (the rates entry fetches them from Alpha Vantage; \
         is ALPHAVANTAGE_API_KEY set?)"
    )]
    RateUnavailable(Currency),
    /// A valid coin id with no cached supply figures.
    #[error(
        "no supply figures for {id} are cached; {}",
        if *.tracked {
            "it is tracked, so they appear once a market job has run: request one with \
             POST /v1/tasks {\"kind\": \"market\", \"args\": {\"limit\": 100}}"
        } else {
            "supply is fetched for tracked coins only: add the coin under [prices.coins] and \
             prices.tracked, then run a market job"
        }
    )]
    CoinNotFetched { id: CoinId, tracked: bool },
    #[error(transparent)]
    UnknownKind(#[from] UnknownKind),
    #[error("invalid args for {kind}: {message}")]
    InvalidArgs { kind: Queue, message: String },
    /// A job's well-formed symbols that no coin has: like a read of an unknown coin, 404.
    #[error("{0}")]
    UnknownSymbols(String),
    #[error("queue {queue} is full: {depth} tasks waiting, cap is {cap}; retry later")]
    QueueFull {
        queue: QueueName,
        depth: u64,
        cap: u64,
    },
    /// Redis is above its memory high-water mark: no queue of the mark takes tasks, whatever
    /// its backlog. Same code and status as a full backlog: the caller's answer is the same.
    #[error(
        "queue {queue} takes no new tasks: redis memory is above its high-water mark ({used} \
         bytes used, mark {limit} bytes); retry later"
    )]
    QueueMemoryFull {
        queue: QueueName,
        used: u64,
        limit: u64,
    },
    #[error("too many requests from this client; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("idempotency key {key:?} is already held by task {existing}")]
    Duplicate { key: String, existing: TaskId },
    #[error(transparent)]
    InvalidTaskId(#[from] TaskIdError),
    #[error("no task with id {0} (it never existed, or its record was pruned)")]
    TaskNotFound(TaskId),
    #[error(transparent)]
    InvalidAlertId(#[from] AlertIdError),
    /// No alert of the caller's has that id (another caller's is never shown).
    #[error("you have no alert with id {0}")]
    AlertNotFound(AlertId),
    /// No alert of anyone's has that id (an admin's lookup).
    #[error("no alert has id {0}")]
    NoSuchAlert(AlertId),
    #[error("invalid condition: {0}")]
    InvalidCondition(String),
    #[error("invalid cooldown: {0}")]
    InvalidCooldown(String),
    /// A webhook URL that is malformed (422), points at an internal address (422), or names a
    /// host that does not resolve (404, as an unknown coin is).
    #[error(transparent)]
    Webhook(TargetError),
    /// The caller holds `alerts.max_per_key` alerts already.
    #[error(
        "you hold {max} alerts, the most one key may (the alerts.max_per_key setting); delete \
         one first"
    )]
    TooManyAlerts { max: u32 },
    #[error(
        "no health report yet: the health job runs on the `health` schedule entry, or request \
         one with POST /v1/tasks {{\"kind\": \"health\"}}"
    )]
    NoHealthReport,
    /// A route that needs a role, called without `Authorization: Bearer <token>`.
    #[error(
        "this route needs `Authorization: Bearer <token>` with a key or token of role `{need}` \
         or higher (an operator makes a key with `coinbeat keys new --role {need}`)"
    )]
    Unauthenticated { need: Role },
    /// A bearer token that is no configured key and no valid JWT. Deliberately says nothing
    /// about why.
    #[error("invalid or expired token")]
    InvalidToken,
    /// A JWT without `sub` asked for an alert: it names no owner that lasts past the token.
    #[error(
        "an alert belongs to the credential that made it, and a JWT without `sub` names none \
         that outlasts the token (its alerts could never be listed or deleted again); use an \
         API key, or a JWT with a `sub`"
    )]
    NoLastingOwner,
    /// A valid token whose role is below the route's.
    #[error("this route needs role `{need}` or higher; the token presented has role `{have}`")]
    Forbidden { need: Role, have: Role },
    #[error("{0} is not tracked")]
    SymbolNotTracked(Symbol),
    /// A symbol the price providers cannot map to a coin.
    #[error(
        "{0} cannot be tracked: no coin has that symbol (it is neither in the coin catalogue, \
         see GET /v1/coins?search=, nor under [prices.coins]), so no price job could price it"
    )]
    UnmappableSymbol(Symbol),
    #[error("{0} is not among the wallets added here")]
    WalletNotWatched(Address),
    #[error("{0} is watched through the settings (wallets.watched); remove it there")]
    WatchedInSettings(Address),
    #[error("unknown queue {0:?}")]
    UnknownQueue(String),
    /// `offset` that is not a whole number (from 0 to 2^63 - 1).
    #[error("offset must be a whole number from 0 to 9223372036854775807, got {0:?}")]
    InvalidOffset(String),
    #[error("no task {id} in queue {queue} (it never existed, or its record was pruned)")]
    TaskNotInQueue { queue: QueueName, id: TaskId },
    /// Only dead tasks can be retried or purged.
    #[error("task {id} is {}, not dead: only dead tasks can be retried or purged", .status.as_str())]
    TaskNotDead { id: TaskId, status: TaskStatus },
    #[error("dead task {0} has no payload left, so it cannot run again; purge it instead")]
    NoPayload(TaskId),
    /// Only a task that waits (ready or delayed) can be deleted or run now by its id.
    #[error(
        "task {id} is {}, not waiting: only a waiting or delayed task can be deleted or run now",
        .status.as_str()
    )]
    TaskNotWaiting { id: TaskId, status: TaskStatus },
    #[error("no schedule entry named {name:?}")]
    UnknownSchedule { name: String, known: Vec<String> },
    /// `api.max_stream_clients` live price streams are open already.
    #[error(
        "this API process already serves {limit} live price streams (the api.max_stream_clients \
         setting); try again later"
    )]
    TooManyStreamClients { limit: usize },
    /// The client holds `api.max_streams_per_client` live price streams already.
    #[error(
        "this client already holds {limit} live price streams (the api.max_streams_per_client \
         setting); close one first"
    )]
    TooManyStreams { limit: usize },
    /// The caller has `api.max_waiting_per_caller` tasks waiting or running already.
    #[error(
        "you have {limit} tasks waiting or running (the api.max_waiting_per_caller setting); \
         retry once some have finished"
    )]
    TooManyTasks { limit: usize },
    /// A stream asked for while the server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// A query parameter that cannot be used (a history's `since`, `until`, `step`; a queue
    /// history's `resolution` or `points`; a task state).
    #[error("{0}")]
    InvalidQuery(String),
    /// A portfolio that cannot be valued as asked (holdings, amounts).
    #[error("{0}")]
    InvalidHoldings(String),
    #[error("redis did not answer within {} ms", .0.as_millis())]
    RedisTimeout(Duration),
    /// An enqueue that timed out: Redis may still have run it.
    #[error(
        "redis did not answer within {} ms; the task may or may not have been enqueued \
         (retry with an idempotency_key to be safe)", .0.as_millis()
    )]
    EnqueueTimeout(Duration),
    #[error("redis is unavailable: {0}")]
    RedisUnavailable(#[source] redis::RedisError),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        self.class().0
    }

    /// The stable, machine-readable code callers branch on.
    pub fn code(&self) -> &'static str {
        self.class().1
    }

    /// Each variant's status and code, declared together once.
    fn class(&self) -> (StatusCode, &'static str) {
        use ApiError::*;
        const BAD_REQUEST: StatusCode = StatusCode::BAD_REQUEST;
        const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;
        const CONFLICT: StatusCode = StatusCode::CONFLICT;
        const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
        const TOO_MANY: StatusCode = StatusCode::TOO_MANY_REQUESTS;
        const UNAVAILABLE: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
        match self {
            RouteNotFound { .. } => (NOT_FOUND, "not_found"),
            BadRequest(_) => (BAD_REQUEST, "bad_request"),
            UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            InvalidJson(_) => (BAD_REQUEST, "invalid_json"),
            InvalidBody(_) => (UNPROCESSABLE, "invalid_body"),
            InvalidSymbol(_) | InvalidSymbols(_) => (UNPROCESSABLE, "invalid_symbol"),
            UnknownCoin(_) => (NOT_FOUND, "unknown_coin"),
            NotFetchedYet { .. } => (NOT_FOUND, "not_fetched_yet"),
            InvalidAddress(_) => (UNPROCESSABLE, "invalid_address"),
            InvalidChain(_) => (UNPROCESSABLE, "invalid_chain"),
            WalletNotAnalysed { .. } => (NOT_FOUND, "not_analysed_yet"),
            UnknownKind(_) => (UNPROCESSABLE, "unknown_kind"),
            InvalidArgs { .. } => (UNPROCESSABLE, "invalid_args"),
            UnknownSymbols(_) => (NOT_FOUND, "unknown_coin"),
            QueueFull { .. } | QueueMemoryFull { .. } => (TOO_MANY, "queue_full"),
            RateLimited { .. } => (TOO_MANY, "rate_limited"),
            Duplicate { .. } => (CONFLICT, "duplicate"),
            InvalidTaskId(_) => (UNPROCESSABLE, "invalid_task_id"),
            TaskNotFound(_) | TaskNotInQueue { .. } => (NOT_FOUND, "task_not_found"),
            NoHealthReport => (NOT_FOUND, "no_health_report"),
            InvalidLimit(_) => (UNPROCESSABLE, "invalid_limit"),
            MarketsNotFetched => (NOT_FOUND, "markets_not_fetched"),
            GlobalNotFetched => (NOT_FOUND, "global_not_fetched"),
            InvalidCoinId(_) => (UNPROCESSABLE, "invalid_coin_id"),
            CoinNotFetched { .. } => (NOT_FOUND, "coin_not_fetched"),
            Unauthenticated { .. } | InvalidToken => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Forbidden { .. } | NoLastingOwner => (StatusCode::FORBIDDEN, "forbidden"),
            SymbolNotTracked(_) => (NOT_FOUND, "symbol_not_tracked"),
            // Well-formed, but no coin has it: not found, as an unknown coin is on a read.
            UnmappableSymbol(_) => (NOT_FOUND, "unmappable_symbol"),
            WalletNotWatched(_) => (NOT_FOUND, "wallet_not_watched"),
            WatchedInSettings(_) => (CONFLICT, "watched_in_settings"),
            UnknownQueue(_) => (NOT_FOUND, "unknown_queue"),
            InvalidOffset(_) => (UNPROCESSABLE, "invalid_offset"),
            InvalidCursor(_) => (UNPROCESSABLE, "invalid_cursor"),
            InvalidCurrency(_) => (UNPROCESSABLE, "invalid_currency"),
            UnknownCurrency { .. } => (NOT_FOUND, "unknown_currency"),
            RateUnavailable(_) => (UNAVAILABLE, "rate_unavailable"),
            UnknownTier { .. } => (UNPROCESSABLE, "unknown_tier"),
            TaskNotDead { .. } => (CONFLICT, "task_not_dead"),
            NoPayload(_) => (CONFLICT, "no_payload"),
            TaskNotWaiting { .. } => (CONFLICT, "task_not_waiting"),
            UnknownSchedule { .. } => (NOT_FOUND, "unknown_schedule"),
            TooManyStreamClients { .. } => (TOO_MANY, "too_many_stream_clients"),
            TooManyStreams { .. } => (TOO_MANY, "too_many_streams"),
            TooManyTasks { .. } => (TOO_MANY, "too_many_tasks"),
            ShuttingDown => (UNAVAILABLE, "shutting_down"),
            InvalidQuery(_) => (UNPROCESSABLE, "invalid_query"),
            InvalidHoldings(_) => (UNPROCESSABLE, "invalid_holdings"),
            RedisTimeout(_) | EnqueueTimeout(_) | RedisUnavailable(_) => {
                (UNAVAILABLE, "redis_unavailable")
            }
            InvalidAlertId(_) => (UNPROCESSABLE, "invalid_alert_id"),
            AlertNotFound(_) | NoSuchAlert(_) => (NOT_FOUND, "alert_not_found"),
            InvalidCondition(_) => (UNPROCESSABLE, "invalid_condition"),
            InvalidCooldown(_) => (UNPROCESSABLE, "invalid_cooldown"),
            Webhook(TargetError::Denied { .. }) => (UNPROCESSABLE, "webhook_target_refused"),
            Webhook(TargetError::Unresolved { .. }) => (NOT_FOUND, "webhook_host_not_found"),
            Webhook(_) => (UNPROCESSABLE, "invalid_webhook_url"),
            TooManyAlerts { .. } => (CONFLICT, "too_many_alerts"),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            ApiError::UnknownKind(_) => Some(json!({
                "valid_kinds": Queue::ALL.map(Queue::as_str),
            })),
            ApiError::QueueFull { queue, depth, cap } => Some(json!({
                "queue": queue,
                "depth": depth,
                "cap": cap,
                "retry_after_seconds": QUEUE_FULL_RETRY_AFTER_SECS,
            })),
            ApiError::QueueMemoryFull { queue, used, limit } => Some(json!({
                "queue": queue,
                "reason": "memory",
                "used_memory": used,
                "memory_high_water": limit,
                "retry_after_seconds": QUEUE_FULL_RETRY_AFTER_SECS,
            })),
            ApiError::Duplicate { existing, .. } => Some(json!({
                "existing_task_id": existing,
                "status_url": format!("/v1/tasks/{existing}"),
            })),
            ApiError::UnknownCoin(asked) => Some(json!({ "coin": asked })),
            ApiError::NotFetchedYet { id, symbol, .. } => {
                Some(json!({ "coin_id": id, "symbol": symbol }))
            }
            ApiError::WalletNotAnalysed { chain, address } => Some(json!({
                "chain": chain,
                "address": address,
                "analyze_url": format!("/v1/wallets/{address}/analyze?chain={chain}"),
            })),
            ApiError::MarketsNotFetched | ApiError::GlobalNotFetched => Some(market_task()),
            ApiError::CoinNotFetched { id, tracked } => Some(json!({
                "coin_id": id,
                "tracked": tracked,
                "request": market_task(),
            })),
            ApiError::UnknownCurrency { known, .. } => Some(json!({ "known_currencies": known })),
            ApiError::RateUnavailable(currency) => Some(json!({ "currency": currency })),
            ApiError::InvalidChain(_) => Some(json!({
                "valid_chains": Chain::ALL.map(Chain::as_str),
            })),
            ApiError::UnknownQueue(_) => Some(json!({
                "valid_queues": Queue::ALL.map(Queue::as_str),
            })),
            ApiError::TaskNotDead { status, .. } | ApiError::TaskNotWaiting { status, .. } => {
                Some(json!({ "status": status }))
            }
            ApiError::TooManyStreamClients { limit }
            | ApiError::TooManyStreams { limit }
            | ApiError::TooManyTasks { limit } => Some(json!({
                "limit": limit,
                "retry_after_seconds": QUEUE_FULL_RETRY_AFTER_SECS,
            })),
            ApiError::Unauthenticated { need } => Some(json!({ "required_role": need })),
            ApiError::Forbidden { need, have } => Some(json!({
                "required_role": need,
                "role": have,
            })),
            ApiError::UnknownSchedule { known, .. } => Some(json!({ "valid_entries": known })),
            ApiError::Webhook(TargetError::Denied {
                host,
                address,
                range,
            }) => {
                // The address only when the caller wrote it: never where a name points inside.
                let address = host.parse::<std::net::IpAddr>().is_ok().then_some(address);
                Some(json!({ "host": host, "address": address, "range": range }))
            }
            ApiError::Webhook(TargetError::Unresolved { host, .. }) => {
                Some(json!({ "host": host }))
            }
            ApiError::TooManyAlerts { max } => Some(json!({ "limit": max })),
            _ => None,
        }
    }

    /// What the caller is told. Server-side failures get a generic sentence: their cause is in
    /// the log, not in the response.
    fn public_message(&self) -> String {
        match self {
            ApiError::RedisUnavailable(_) => "redis is unavailable; try again shortly".into(),
            ApiError::Internal(_) => "internal error; the cause is in the server log".into(),
            other => other.to_string(),
        }
    }

    fn log(&self) {
        match self {
            ApiError::Internal(_) => tracing::error!(error = %chain(self), "internal error"),
            ApiError::RedisUnavailable(_)
            | ApiError::RedisTimeout(_)
            | ApiError::EnqueueTimeout(_) => {
                tracing::warn!(error = %chain(self), "redis unavailable")
            }
            _ => {}
        }
    }
}

/// The task that refreshes market data, as `POST /v1/tasks` takes it.
fn market_task() -> Value {
    json!({
        "method": "POST",
        "url": "/v1/tasks",
        "body": { "kind": Queue::Market, "args": { "limit": 100 } },
    })
}

/// An error and its sources, `: `-separated.
fn chain(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !out.ends_with(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = e.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let mut response = error_response(
            self.status(),
            self.code(),
            &self.public_message(),
            self.details(),
        );
        match self {
            ApiError::Unauthenticated { .. } => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"coinbeat\""),
                );
            }
            // RFC 6750 §3.1: the generic error code, no description.
            ApiError::InvalidToken => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"coinbeat\", error=\"invalid_token\""),
                );
            }
            _ => {}
        }
        let retry_after = match &self {
            ApiError::QueueFull { .. }
            | ApiError::QueueMemoryFull { .. }
            | ApiError::TooManyStreamClients { .. }
            | ApiError::TooManyStreams { .. }
            | ApiError::TooManyTasks { .. } => Some(QUEUE_FULL_RETRY_AFTER_SECS),
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Every error answer: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ErrorBody<'a> {
    /// The stable, machine-readable code (`not_found`, `invalid_symbol`, ...).
    code: &'a str,
    message: &'a str,
    /// What there is to add, by code (valid values, the task that would fill a cache, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
}

fn error_body(code: &str, message: &str, details: Option<Value>) -> Vec<u8> {
    serde_json::to_vec(&ErrorEnvelope {
        error: ErrorBody {
            code,
            message,
            details,
        },
    })
    .expect("error bodies serialize")
}

fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Option<Value>,
) -> Response {
    let mut response = Response::new(Body::from(error_body(code, message, details)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Puts an error response that did not come from [`ApiError`] (the router's 405, the body
/// limit's 413, the request timeout's 503) into the one shape, keeping its status and headers
/// (such as `Allow`). Successful and already-JSON responses pass untouched.
pub fn reshape(response: Response, max_body_bytes: usize) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "method not allowed on this route; the Allow header lists the allowed ones".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            ApiError::PayloadTooLarge {
                limit: max_body_bytes,
            }
            .to_string(),
        ),
        StatusCode::SERVICE_UNAVAILABLE => {
            tracing::warn!("request timed out");
            ("timeout", "the request did not complete in time".to_owned())
        }
        StatusCode::NOT_FOUND => ("not_found", "not found".to_owned()),
        other => (
            "error",
            other
                .canonical_reason()
                .unwrap_or("request failed")
                .to_ascii_lowercase(),
        ),
    };
    let (mut parts, _body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(error_body(code, &message, None)))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

impl ApiError {
    /// Redis could not be reached (refused, dropped, timed out): what a read may answer from
    /// the in-process copy instead.
    pub fn is_redis_unavailable(&self) -> bool {
        matches!(
            self,
            ApiError::RedisUnavailable(_) | ApiError::RedisTimeout(_)
        )
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(e: redis::RedisError) -> Self {
        if is_unavailability(&e) {
            ApiError::RedisUnavailable(e)
        } else {
            ApiError::Internal(Box::new(e))
        }
    }
}

/// Whether a Redis error means "Redis cannot serve us right now" (connection refused or
/// dropped, loading, failing over) rather than "we sent something wrong" (a bug, answered 500).
fn is_unavailability(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind, RetryMethod};
    match e.kind() {
        ErrorKind::Server(_) | ErrorKind::Extension => {
            !matches!(e.retry_method(), RetryMethod::NoRetry)
        }
        ErrorKind::UnexpectedReturnType | ErrorKind::Parse | ErrorKind::InvalidClientConfig => {
            false
        }
        _ => true,
    }
}

impl From<RateLimitError> for ApiError {
    fn from(e: RateLimitError) -> Self {
        match e {
            RateLimitError::Redis(e) => e.into(),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl From<CacheError> for ApiError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Redis(e) => e.into(),
            corrupt @ CacheError::Corrupt { .. } => ApiError::Internal(Box::new(corrupt)),
        }
    }
}

impl From<CatalogueError> for ApiError {
    fn from(e: CatalogueError) -> Self {
        match e {
            CatalogueError::Redis(e) => e.into(),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Full { queue, depth, cap } => ApiError::QueueFull { queue, depth, cap },
            QueueError::MemoryFull {
                queue, used, limit, ..
            } => ApiError::QueueMemoryFull { queue, used, limit },
            QueueError::Duplicate { key, existing } => ApiError::Duplicate {
                // `submit` namespaces callers' keys; show the key the caller sent.
                key: key.strip_prefix("user:").unwrap_or(&key).to_owned(),
                existing,
            },
            QueueError::Redis(e) => e.into(),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::BadArgs { kind, message } => ApiError::InvalidArgs { kind, message },
            unknown @ SubmitError::UnknownSymbols { .. } => {
                ApiError::UnknownSymbols(unknown.to_string())
            }
            SubmitError::Queue(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TooMany { max } => ApiError::TooManyAlerts { max },
            StoreError::Redis(e) => e.into(),
            corrupt @ StoreError::Corrupt { .. } => ApiError::Internal(Box::new(corrupt)),
        }
    }
}

impl From<DeadError> for ApiError {
    fn from(e: DeadError) -> Self {
        match e {
            DeadError::NotFound { queue, id } => ApiError::TaskNotInQueue { queue, id },
            DeadError::NotDead { id, status } => ApiError::TaskNotDead { id, status },
            DeadError::NoPayload { id } => ApiError::NoPayload(id),
            DeadError::Queue(e) => e.into(),
        }
    }
}

impl From<WaitingError> for ApiError {
    fn from(e: WaitingError) -> Self {
        match e {
            WaitingError::NotFound { queue, id } => ApiError::TaskNotInQueue { queue, id },
            WaitingError::NotWaiting { id, status } => ApiError::TaskNotWaiting { id, status },
            WaitingError::Queue(e) => e.into(),
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::UnknownEntry { name, known } => ApiError::UnknownSchedule { name, known },
            ControlError::Submit(e) => e.into(),
            ControlError::Redis(e) => e.into(),
        }
    }
}
