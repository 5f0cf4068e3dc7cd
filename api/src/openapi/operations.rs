//! What the OpenAPI document says of each route beyond the route table: a summary, the success
//! status, whether it can answer 404, and the types it reads and renders (path parameters,
//! query struct, body, response), whose schemas are derived from them. A route missing here
//! fails `every_route_is_described` below.

use axum::http::Method;
use coinbeat_shared::{
    domain::{Address, CoinId, Symbol},
    jobs::Queue,
    queue::TaskId,
};
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{RefOr, path::Parameter, path::ParameterIn, schema::Schema},
};

use super::{Components, schema_ref};
use crate::vs_currency::VsQuery;
use crate::{
    price_feed::StreamQuery,
    routes::{
        admin_alerts, admin_cache, admin_prices, admin_symbols, admin_wallets, alerts, coins, dead,
        health_report, markets, me, paging, portfolio, price_history, prices, purge, queue_history,
        queue_pause, queue_tasks, queues, rate_limits, schedule_control, schedules, status,
        task_search, tasks, waiting_task, wallets, workers,
    },
};

/// A path parameter's schema.
pub type PathSchema = fn() -> RefOr<Schema>;
/// A body's schema, registered in the document's components.
pub type BodySchema = fn(&mut Components) -> RefOr<Schema>;

/// The description of one operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub summary: &'static str,
    /// The schema of each `{name}` of the path, in order.
    pub path: &'static [PathSchema],
    /// The query parameters (from the handler's query struct).
    pub query: fn() -> Vec<Parameter>,
    pub success: u16,
    /// Other success statuses with the same body, and what each means.
    pub also: &'static [(u16, &'static str)],
    pub content: &'static str,
    pub body: Option<BodySchema>,
    /// Whether the body may be left out.
    pub body_required: bool,
    pub response: Option<BodySchema>,
    pub not_found: bool,
    /// What a 409 means here, where one can be answered.
    pub conflict: Option<&'static str>,
    /// A public route that still reads a bearer token, and answers 401 for one that is not
    /// valid (`/v1/me`).
    pub reads_token: bool,
    /// What a 403 means on a route whose access rule alone never answers one.
    pub forbidden: Option<&'static str>,
    /// What a 404 means here, where it says more than the generic sentence (implies
    /// `not_found`).
    pub not_found_means: Option<&'static str>,
    /// What a 422 means here, where it says more than the generic sentence.
    pub invalid_means: Option<&'static str>,
    /// What the success answer's `Location` header points at, where it has one.
    pub location: Option<&'static str>,
}

const JSON: &str = "application/json";

pub(super) const fn op(summary: &'static str) -> Operation {
    Operation {
        summary,
        path: &[],
        query: no_query,
        success: 200,
        also: &[],
        content: JSON,
        body: None,
        body_required: true,
        response: None,
        not_found: false,
        conflict: None,
        reads_token: false,
        forbidden: None,
        not_found_means: None,
        invalid_means: None,
        location: None,
    }
}

fn no_query() -> Vec<Parameter> {
    Vec::new()
}

/// The query parameters `T` reads.
fn query<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Query))
}

/// The query parameters of `T`, every one required (utoipa leaves a parameter with its own
/// schema optional, whatever its Rust type).
fn required<T: IntoParams>() -> Vec<Parameter> {
    let mut params = query::<T>();
    for param in &mut params {
        param.required = utoipa::openapi::Required::True;
    }
    params
}

/// The query parameters of two structs a handler reads side by side.
fn both<A: IntoParams, B: IntoParams>() -> Vec<Parameter> {
    let mut params = query::<A>();
    params.extend(query::<B>());
    params
}

fn string() -> RefOr<Schema> {
    String::schema()
}

/// `T` as a JSON body.
const fn json<T: ToSchema>() -> Option<BodySchema> {
    Some(schema_ref::<T>)
}

/// The description of `method path`, `None` for a route this table lacks.
/// What `/healthz` and `/readyz` answer when they answer 200: `{"status": "ok"}`
/// (`coinbeat_ops`'s handlers, as every process serves them).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Liveness {
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
}

pub fn describe(method: &Method, path: &str) -> Option<Operation> {
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let delete = *method == Method::DELETE;
    const QUEUE: &[PathSchema] = &[<Queue as PartialSchema>::schema];
    const QUEUE_TASK: &[PathSchema] = &[<Queue as PartialSchema>::schema, TaskId::schema];
    const ENTRY: &[PathSchema] = &[string];
    let o = match path {
        "/healthz" if get => Operation {
            response: json::<Liveness>(),
            ..op("Liveness: the process answers")
        },
        "/readyz" if get => Operation {
            response: json::<Liveness>(),
            ..op("Readiness: Redis answers (503 otherwise)")
        },
        "/metrics" if get => Operation {
            content: "text/plain; version=0.0.4",
            ..op("Prometheus metrics of this API process")
        },
        "/openapi.json" if get => op("This document"),
        "/docs" if get => Operation {
            content: "text/html",
            ..op("The API documentation page (works offline)")
        },
        "/docs/docs.js" if get => Operation {
            content: "text/javascript",
            ..op("The documentation page's script")
        },
        "/docs/docs.css" if get => Operation {
            content: "text/css",
            ..op("The documentation page's style sheet")
        },
        "/ui" if get => Operation {
            content: "text/html",
            ..op("The dashboard (works offline; its assets are in the binary)")
        },
        "/ui/{asset}" if get => Operation {
            path: &[string],
            content: "text/javascript",
            not_found: true,
            ..op("A script or style sheet of the dashboard")
        },
        "/v1/me" if get => Operation {
            response: json::<me::Me>(),
            reads_token: true,
            ..op("What the presented credential may do (401 for a token that is not valid)")
        },
        "/v1/prices" if get => Operation {
            query: query::<prices::ListQuery>,
            response: json::<prices::PriceList>(),
            // `?vs=` a currency `rates.currencies` does not list.
            not_found: true,
            ..op(
                "Cached USD prices, with what is missing: the tracked set, a list of symbols or ids, or a rank tier's coins (paged)",
            )
        },
        "/v1/prices/{coin}" if get => Operation {
            path: &[prices::coin_schema],
            query: query::<VsQuery>,
            response: json::<prices::OnePrice>(),
            not_found: true,
            ..op(
                "One cached price by coin id or symbol (a shared symbol names the best-ranked coin and lists the others): exact decimals, fetched_at, source, age, stale",
            )
        },
        "/v1/prices/{coin}/history" if get => Operation {
            path: &[prices::coin_schema],
            query: query::<price_history::HistoryQuery>,
            response: json::<price_history::HistoryResponse>(),
            not_found: true,
            ..op("Stored price history points of one symbol")
        },
        "/v1/stream/prices" if get => Operation {
            query: query::<StreamQuery>,
            content: "text/event-stream",
            not_found: true,
            ..op("Live price updates as Server-Sent Events (price, lagged, closing)")
        },
        "/v1/ws/prices" if get => Operation {
            query: query::<StreamQuery>,
            content: "text/event-stream",
            not_found: true,
            also: &[(
                101,
                "With the WebSocket handshake headers (RFC 6455): the feed over a WebSocket, one JSON text message per event",
            )],
            ..op(
                "Live price updates over a WebSocket; a plain GET (no Upgrade header) gets the same feed as Server-Sent Events",
            )
        },
        "/v1/portfolio/value" if post => Operation {
            body: json::<portfolio::PortfolioRequest>(),
            response: json::<portfolio::PortfolioResponse>(),
            ..op("Value holdings at the cached prices (exact decimals, allocation, missing)")
        },
        "/v1/markets" if get => Operation {
            query: query::<markets::MarketsQuery>,
            response: json::<markets::MarketsResponse>(),
            not_found: true,
            ..op("Top coins by market cap (CoinGecko, or CoinLore while it is down)")
        },
        "/v1/markets/global" if get => Operation {
            response: json::<markets::GlobalResponse>(),
            not_found: true,
            ..op("Global market figures")
        },
        "/v1/coins" if get => Operation {
            query: query::<coins::CoinsQuery>,
            response: json::<coins::CoinsResponse>(),
            ..op("The coin catalogue, best-ranked first, or a ranked search by name, symbol or id")
        },
        "/v1/coins/{id}" if get => Operation {
            path: &[CoinId::schema],
            response: json::<markets::CoinResponse>(),
            not_found: true,
            ..op("Supply figures of one coin")
        },
        "/v1/tasks" if post => Operation {
            body: json::<tasks::SubmitRequest>(),
            response: json::<tasks::SubmitAnswer>(),
            success: 202,
            conflict: Some("the idempotency key is held by an earlier task (its id in `details`)"),
            not_found: true,
            also: &[(
                200,
                "An identical task is already waiting or running (`deduplicated`), or the data asked for is cached and fresh (`fresh`, unless `force`)",
            )],
            ..op(
                "Enqueue a job (prices, market, wallet, health, cleanup, catalogue); 200 when an identical task is already waiting or running, or a fresh result is cached (unless force)",
            )
        },
        "/v1/tasks/{id}" if get => Operation {
            path: &[TaskId::schema],
            response: json::<tasks::TaskView>(),
            not_found: true,
            ..op("One task: status, attempts, result or error")
        },
        "/v1/alerts" if post => Operation {
            body: json::<alerts::CreateAlert>(),
            response: json::<alerts::AlertView>(),
            success: 201,
            location: Some("the new alert (`/v1/alerts/{id}`)"),
            conflict: Some("the key holds `alerts.max_per_key` alerts already (`too_many_alerts`)"),
            not_found_means: Some(
                "no coin has that id or symbol (`unknown_coin`), or the webhook's host does not resolve (`webhook_host_not_found`)",
            ),
            invalid_means: Some(
                "a condition out of range or not as documented (`invalid_condition`), a cooldown that is no whole number of seconds up to a week (`invalid_cooldown`), a webhook URL that is not an http(s) URL or carries credentials (`invalid_webhook_url`), or a webhook host that is or resolves to an internal address: loopback, private, link-local, carrier-grade NAT, unique local, multicast, ... (`webhook_target_refused`, unless `alerts.allow_private_targets`)",
            ),
            ..op(
                "Create a price alert: a condition on a coin's USD price and a webhook to call when a price update crosses it; the answer carries the signing secret, shown this once",
            )
        },
        "/v1/alerts" if get => Operation {
            response: json::<alerts::AlertList>(),
            ..op("The caller's price alerts, oldest first (without their secrets)")
        },
        "/v1/alerts/{id}" if get => Operation {
            path: &[alerts::alert_id_schema],
            response: json::<alerts::AlertView>(),
            not_found_means: Some("the caller has no alert of that id (`alert_not_found`)"),
            invalid_means: Some("an id that is not a ULID (`invalid_alert_id`)"),
            ..op("One of the caller's price alerts (without its secret)")
        },
        "/v1/alerts/{id}" if delete => Operation {
            path: &[alerts::alert_id_schema],
            success: 204,
            not_found_means: Some("the caller has no alert of that id (`alert_not_found`)"),
            invalid_means: Some("an id that is not a ULID (`invalid_alert_id`)"),
            ..op("Delete one of the caller's price alerts")
        },
        "/v1/wallets/{address}" if get => Operation {
            path: &[Address::schema],
            query: query::<wallets::ChainQuery>,
            response: json::<wallets::WalletView>(),
            not_found: true,
            ..op("The cached analysis of a wallet")
        },
        "/v1/wallets/{address}/analyze" if post => Operation {
            path: &[Address::schema],
            query: query::<wallets::ChainQuery>,
            response: json::<wallets::AnalyzeAnswer>(),
            success: 202,
            also: &[(
                200,
                "An identical analysis is already waiting or running, or a fresh one is cached (unless force)",
            )],
            ..op("Enqueue an analysis of a wallet")
        },
        "/v1/queues" if get => Operation {
            response: json::<queues::QueuesResponse>(),
            ..op("Every queue: waiting, delayed, in flight, done, dead, workers")
        },
        "/v1/tasks" if get => Operation {
            query: query::<task_search::SearchQuery>,
            response: json::<task_search::SearchView>(),
            forbidden: Some("`args` given by a caller without the `admin` role"),
            ..op(
                "Search tasks by a substring of their arguments or last error, state and finish time",
            )
        },
        "/v1/queues/{queue}/history" if get => Operation {
            path: QUEUE,
            query: query::<queue_history::HistoryQuery>,
            response: json::<queue_history::HistoryView>(),
            not_found: true,
            ..op("What a queue finished per minute (a day) or per hour (30 days)")
        },
        "/v1/queues/{queue}/tasks" if get => Operation {
            path: QUEUE,
            query: both::<paging::PageQuery, queue_tasks::StateQuery>,
            response: json::<queue_tasks::TaskPageView>(),
            not_found: true,
            ..op("A page of a queue's tasks in one state")
        },
        "/v1/admin/queues/{queue}/pause" if post => Operation {
            path: QUEUE,
            response: json::<queue_pause::QueuePauseView>(),
            not_found: true,
            ..op("Pause a queue: no worker replica fetches from it")
        },
        "/v1/admin/queues/{queue}/resume" if post => Operation {
            path: QUEUE,
            response: json::<queue_pause::QueuePauseView>(),
            not_found: true,
            ..op("Resume a paused queue")
        },
        "/v1/schedules" if get => Operation {
            response: json::<schedules::SchedulesResponse>(),
            ..op("The schedule table: last run, outcome, next run, paused")
        },
        "/v1/schedules/{entry}/runs" if get => Operation {
            path: ENTRY,
            query: query::<schedule_control::RunsQuery>,
            response: json::<schedule_control::RunsResponse>(),
            not_found: true,
            ..op("Recent runs of one schedule entry")
        },
        "/v1/workers" if get => Operation {
            response: json::<workers::WorkersResponse>(),
            ..op("Every worker: queue, host, pid, heartbeat, tasks held")
        },
        "/v1/health" if get => Operation {
            response: json::<health_report::ReportView>(),
            not_found: true,
            ..op("The latest health report: upstreams, breakers, limiters, Redis, queues")
        },
        "/v1/rate-limits" if get => Operation {
            response: json::<rate_limits::RateLimitsResponse>(),
            ..op(
                "Each upstream's shared rate limit now: permits in use per window, waiting callers",
            )
        },
        "/v1/status" if get => Operation {
            response: json::<status::StatusView>(),
            ..op(
                "The price service at a glance: Redis, the tracked prices and their ages, providers, history storage",
            )
        },
        "/v1/admin/queues/{queue}/dead" if get => Operation {
            path: QUEUE,
            query: query::<paging::PageQuery>,
            response: json::<dead::DeadPageView>(),
            not_found: true,
            ..op("Dead tasks of a queue, newest first")
        },
        "/v1/admin/queues/{queue}/dead" if delete => Operation {
            path: QUEUE,
            response: json::<dead::Purged>(),
            not_found: true,
            ..op("Purge every dead task of a queue")
        },
        "/v1/admin/queues/{queue}/dead/retry" if post => Operation {
            path: QUEUE,
            response: json::<dead::RetriedAll>(),
            not_found: true,
            ..op("Retry every dead task of a queue")
        },
        "/v1/admin/queues/{queue}/dead/{id}" if get => Operation {
            path: QUEUE_TASK,
            response: json::<tasks::TaskView>(),
            not_found: true,
            ..op("One dead task: payload, attempts, last error")
        },
        "/v1/admin/queues/{queue}/dead/{id}" if delete => Operation {
            path: QUEUE_TASK,
            response: json::<dead::PurgedOne>(),
            not_found: true,
            conflict: Some("the task is not dead"),
            ..op("Purge one dead task")
        },
        "/v1/admin/queues/{queue}/dead/{id}/retry" if post => Operation {
            path: QUEUE_TASK,
            response: json::<dead::Retried>(),
            not_found: true,
            conflict: Some("the task is not dead, or has no payload left to run"),
            ..op("Retry one dead task")
        },
        "/v1/admin/queues/{queue}/tasks/{id}" if delete => Operation {
            path: QUEUE_TASK,
            response: json::<waiting_task::WaitingTaskDeleted>(),
            not_found: true,
            conflict: Some("the task runs or has finished"),
            ..op("Delete one waiting or delayed task")
        },
        "/v1/admin/queues/{queue}/tasks/{id}/run" if post => Operation {
            path: QUEUE_TASK,
            response: json::<waiting_task::TaskRunNow>(),
            not_found: true,
            conflict: Some("the task runs or has finished"),
            ..op("Run one delayed task now (or one waiting for its next attempt)")
        },
        "/v1/admin/queues/{queue}/purge" if post => Operation {
            path: QUEUE,
            response: json::<purge::PurgedWaiting>(),
            not_found: true,
            ..op("Delete every waiting task of a queue (in-flight ones run on)")
        },
        "/v1/admin/schedules/{entry}/pause" if post => Operation {
            path: ENTRY,
            response: json::<schedule_control::PauseView>(),
            not_found: true,
            ..op("Pause a schedule entry")
        },
        "/v1/admin/schedules/{entry}/resume" if post => Operation {
            path: ENTRY,
            response: json::<schedule_control::PauseView>(),
            not_found: true,
            ..op("Resume a schedule entry")
        },
        "/v1/admin/schedules/{entry}/run" if post => Operation {
            path: ENTRY,
            response: json::<schedule_control::RunNow>(),
            not_found: true,
            success: 202,
            ..op("Run a schedule entry now")
        },
        "/v1/admin/prices/refresh" if post => Operation {
            body: json::<admin_prices::RefreshRequest>(),
            body_required: false,
            not_found: true,
            response: json::<tasks::Accepted>(),
            success: 202,
            also: &[(200, "An identical refresh is already waiting or running")],
            ..op("Refresh prices now (optional symbols)")
        },
        "/v1/admin/cache/stats" if get => Operation {
            response: json::<admin_cache::CacheStats>(),
            ..op("Keys, memory, hits and misses, oldest record per kind")
        },
        "/v1/admin/symbols" if get => Operation {
            response: json::<admin_symbols::TrackedView>(),
            ..op("The tracked symbols")
        },
        "/v1/admin/symbols" if post => Operation {
            body: json::<admin_symbols::AddSymbol>(),
            response: json::<admin_symbols::TrackedView>(),
            not_found: true,
            success: 201,
            also: &[(200, "Every symbol was tracked already (`changed`: false)")],
            ..op("Track a symbol (refused when no provider can map it)")
        },
        "/v1/admin/symbols" if delete => Operation {
            query: required::<admin_symbols::RemoveQuery>,
            response: json::<admin_symbols::TrackedView>(),
            not_found: true,
            ..op("Stop tracking several symbols (all or none)")
        },
        "/v1/admin/symbols/{symbol}" if delete => Operation {
            path: &[Symbol::schema],
            response: json::<admin_symbols::TrackedView>(),
            not_found: true,
            ..op("Stop tracking a symbol")
        },
        "/v1/admin/alerts" if get => Operation {
            query: query::<admin_alerts::AdminAlertsQuery>,
            response: json::<admin_alerts::AdminAlertList>(),
            ..op(
                "Every caller's price alerts (or one owner's, or those whose key is no longer configured), oldest first, without their secrets",
            )
        },
        "/v1/admin/alerts/{id}" if delete => Operation {
            path: &[alerts::alert_id_schema],
            success: 204,
            not_found_means: Some("no alert has that id (`alert_not_found`)"),
            invalid_means: Some("an id that is not a ULID (`invalid_alert_id`)"),
            ..op("Delete any caller's price alert")
        },
        "/v1/admin/wallets" if get => Operation {
            response: json::<admin_wallets::WatchedView>(),
            ..op("The watched wallets")
        },
        "/v1/admin/wallets" if post => Operation {
            body: json::<admin_wallets::AddWallet>(),
            response: json::<admin_wallets::WatchedView>(),
            success: 201,
            also: &[(200, "The wallet was watched already (`changed`: false)")],
            ..op("Watch a wallet (analysed on the hourly schedule)")
        },
        "/v1/admin/wallets/{address}" if delete => Operation {
            path: &[Address::schema],
            response: json::<admin_wallets::WatchedView>(),
            not_found: true,
            conflict: Some("the wallet is watched through the settings (`wallets.watched`)"),
            ..op("Stop watching a wallet")
        },
        _ => return None,
    };
    Some(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let missing: Vec<String> = crate::routes::endpoints()
            .into_iter()
            .filter(|(method, path, _)| describe(method, path).is_none())
            .map(|(method, path, _)| format!("{method} {path}"))
            .collect();
        assert!(missing.is_empty(), "undescribed routes: {missing:?}");
    }
}
