//! The router: every route in one table ([`table`]) with who may call it ([`Access`]), the
//! 404 fallback, and the middleware around them. The router is built from the table and puts
//! [`auth::require`] on every route, so no route exists without an access rule, and the
//! route-matrix test walks the same table.
//!
//! | routes | file |
//! |---|---|
//! | `GET /v1/prices`, `GET /v1/prices/{coin}` | [`prices`] |
//! | `GET /v1/prices/{coin}/history` | [`price_history`] |
//! | `GET /v1/stream/prices` (Server-Sent Events) | [`stream_prices`] |
//! | `GET /v1/ws/prices` (WebSocket) | [`ws_prices`] |
//! | `POST /v1/portfolio/value` | [`portfolio`] |
//! | `GET /v1/markets`, `GET /v1/markets/global`, `GET /v1/coins/{id}` | [`markets`] |
//! | `POST /v1/tasks`, `GET /v1/tasks/{id}` | [`tasks`] |
//! | `GET /v1/tasks` (search) | [`task_search`] |
//! | `POST`, `GET /v1/alerts`; `GET`, `DELETE /v1/alerts/{id}` (price alerts) | [`alerts`] |
//! | `GET /v1/wallets/{address}`, `POST /v1/wallets/{address}/analyze` | [`wallets`] |
//! | `GET /v1/queues` | [`queues`] |
//! | `GET /v1/queues/{queue}/history` | [`queue_history`] |
//! | `GET /v1/queues/{queue}/tasks` | [`queue_tasks`] |
//! | `POST /v1/admin/queues/{queue}/pause`, `.../resume` | [`queue_pause`] |
//! | `GET /ui`, `GET /ui/{asset}` (the dashboard) | [`crate::dashboard`] |
//! | `GET /v1/schedules` | [`schedules`] |
//! | `GET /v1/schedules/{entry}/runs` | [`schedule_control`] |
//! | `GET /v1/workers` | [`workers`] |
//! | `GET /v1/health` | [`health_report`] |
//! | `GET /v1/rate-limits` | [`rate_limits`] |
//! | `GET /v1/status` (the price service at a glance) | [`status`] |
//! | `GET /v1/me` (what the caller may do) | [`me`] |
//! | `GET /healthz`, `GET /readyz`, `GET /metrics` | [`coinbeat_ops`]'s handlers, as every process serves them |
//! | `GET /openapi.json`, `GET /docs` (+ `docs.js`, `docs.css`) | [`crate::openapi::docs`] |
//! | `GET`, `DELETE /v1/admin/queues/{queue}/dead[/{id}]`; `POST .../retry` | [`dead`] |
//! | `DELETE /v1/admin/queues/{queue}/tasks/{id}`; `POST .../run` | [`waiting_task`] |
//! | `POST /v1/admin/queues/{queue}/purge` | [`purge`] |
//! | `POST /v1/admin/schedules/{entry}/pause`, `.../resume`, `.../run` | [`schedule_control`] |
//! | `POST /v1/admin/prices/refresh` | [`admin_prices`] |
//! | `GET /v1/admin/cache/stats` | [`admin_cache`] |
//! | `GET`, `POST`, `DELETE /v1/admin/symbols`; `DELETE /v1/admin/symbols/{symbol}` | [`admin_symbols`] |
//! | `GET`, `POST /v1/admin/wallets`; `DELETE /v1/admin/wallets/{address}` | [`admin_wallets`] |
//! | `GET /v1/admin/alerts`; `DELETE /v1/admin/alerts/{id}` (every caller's price alerts) | [`admin_alerts`] |

use std::{any::Any, convert::Infallible};

use axum::{
    Router,
    body::Body,
    extract::DefaultBodyLimit,
    http::{Method, Request, Uri},
    response::{IntoResponse, Response},
    routing::{MethodRouter, delete, get, post},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{jobs::Queue, settings::StatusRead};
use tower::{Service, ServiceBuilder};
use tower_http::{
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    map_response_body::MapResponseBodyLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    trace::{DefaultOnFailure, TraceLayer},
};

use crate::{
    ApiError, AppState,
    auth::{self, Access, Gate},
    dashboard,
    error::reshape,
    hardening::{
        self,
        client_ip::{self, TrustedProxies},
        client_limit, request_id,
        request_timeout::RequestTimeoutLayer,
    },
    metrics::TrackLayer,
    openapi::docs,
};

pub mod admin_alerts;
pub mod admin_cache;
pub mod admin_prices;
pub mod admin_symbols;
pub mod admin_wallets;
pub mod alerts;
pub mod coins;
pub mod dead;
pub mod health_report;
pub mod markets;
pub mod me;
pub mod paging;
pub mod portfolio;
pub mod price_history;
pub mod prices;
pub mod purge;
pub mod queue_history;
pub mod queue_pause;
pub mod queue_tasks;
pub mod queues;
pub mod rate_limits;
pub mod schedule_control;
pub mod schedules;
pub mod status;
pub mod stream_prices;
pub mod task_row;
pub mod task_search;
pub mod tasks;
pub mod waiting_task;
pub mod wallets;
pub mod workers;
pub mod ws_prices;

/// The whole API, ready to serve.
///
/// Middleware, outermost first: the request id ([`hardening::request_id`]); the security
/// headers; CORS when `api.cors_origins` names origins; request metrics
/// ([`crate::metrics::Track`], so they count the final status); `Authorization` marked
/// sensitive; a trace span per request (with its request id); who the client is
/// ([`hardening::client_ip`]); the per-client rate limit ([`hardening::client_limit`], 429);
/// [`reshape`], so the errors the layers below produce share the one error shape; the request
/// timeout (503); the body limit (`api.max_body_bytes`, 413); a panic catcher (500). Inside all
/// of them, the routes, each behind its own [`auth::require`].
///
/// The middleware is one stack built once around the routes (not `Router::layer`, which wraps
/// each route on its own and so clones a boxed service per layer on every request).
///
/// `api.cors_origins` must have been checked with [`hardening::cors::layer`] (as
/// [`crate::serve`] does); an origin that does not parse is left out here.
pub fn router(state: AppState) -> Router {
    Router::new().fallback_service(service(state))
}

/// [`router`]'s whole stack as the service it is, which [`crate::serve`] calls on each
/// connection in place (a `Router` would clone a boxed copy of it for every request).
pub fn service(
    state: AppState,
) -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    let limit = state.max_body_bytes();
    let timeout = state.request_timeout();
    let http_metrics = state.http_metrics().clone();
    let api = &state.settings().api;
    let client_limit = state
        .client_limiter()
        .is_some()
        .then(|| client_limit::LimitLayer(state.clone()));
    let cors = hardening::cors::layer(&api.cors_origins).ok().flatten();
    let trusted = TrustedProxies::new(&api.trusted_proxies);
    let mut routes = Router::new();
    for route in table() {
        let gate = Gate {
            state: state.clone(),
            access: route.access,
            path: route.path,
        };
        routes = routes.route(route.path, route.handler.route_layer(auth::require(gate)));
    }
    let routes = routes.fallback(not_found).with_state(state);
    ServiceBuilder::new()
        .map_request(request_id::sanitize)
        .layer(SetRequestIdLayer::new(
            request_id::X_REQUEST_ID.clone(),
            request_id::MakeUlid,
        ))
        .layer(PropagateRequestIdLayer::new(
            request_id::X_REQUEST_ID.clone(),
        ))
        .map_response(hardening::security_headers::add)
        .option_layer(cors)
        // Sees the final status, and the route template the route's gate left on the response.
        .layer(TrackLayer(http_metrics))
        // The layers above (CORS) answer some requests themselves, with a default body.
        .layer(MapResponseBodyLayer::new(Body::new))
        // Bearer tokens never reach a log line (the trace layer, or a `Debug` of the headers).
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
        ]))
        // Failures are logged where their cause is known (`ApiError`, `reshape`); the trace
        // layer would log each 503 of a Redis outage a second time, without the cause.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = request.uri().path(),
                        request_id = request_id::of(request).unwrap_or("-"),
                    )
                })
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        // Who the client is, for the rate limit below and the stream cap in the handlers.
        .map_request(move |request| client_ip::identify(&trusted, request))
        .option_layer(client_limit)
        .map_response(move |response: Response| reshape(response, limit))
        .layer(RequestTimeoutLayer::new(timeout))
        // The layers below answer with bodies of their own types; the timeout's is `Body`.
        .layer(MapResponseBodyLayer::new(Body::new))
        .layer(RequestBodyLimitLayer::new(limit))
        // axum's extractors apply their own default limit (2 MiB); make it agree.
        .layer(DefaultBodyLimit::max(limit))
        // A bug that panics answers 500 in the error shape (and is logged), not a dropped
        // connection.
        .layer(CatchPanicLayer::custom(panic_response))
        .service(routes)
}

/// One route: its method and path template, who may call it, and its handler.
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<AppState>,
}

fn route(
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        access,
        handler,
    }
}

/// Every route the API has, with its access rule. Market reads are [`Access::Read`], the
/// operational reads (queues, workers, schedules, health, tasks, the scrape) [`Access::Status`],
/// everything that enqueues work is [`Access::Enqueue`] (and so are a caller's price alerts,
/// reads included: an alert is work done for its owner), everything under `/v1/admin` is
/// [`Access::Admin`], and only the probes and the documentation are [`Access::Public`].
pub fn table() -> Vec<Route> {
    use Access::{Admin, Enqueue, Public, Read, Status};
    use Method as M;
    use StatusRead as S;
    vec![
        route(M::GET, "/healthz", Public, get(coinbeat_ops::healthz)),
        route(M::GET, "/readyz", Public, get(coinbeat_ops::readyz)),
        route(
            M::GET,
            "/metrics",
            Status(S::Metrics),
            get(coinbeat_ops::metrics),
        ),
        route(M::GET, "/openapi.json", Public, get(docs::openapi)),
        route(M::GET, "/docs", Public, get(docs::page)),
        route(M::GET, "/docs/docs.js", Public, get(docs::script)),
        route(M::GET, "/docs/docs.css", Public, get(docs::style)),
        route(M::GET, "/ui", Public, get(dashboard::page)),
        route(M::GET, "/ui/{asset}", Public, get(dashboard::file)),
        route(M::GET, "/v1/me", Public, get(me::me)),
        route(M::GET, "/v1/prices", Read, get(prices::list)),
        route(M::GET, "/v1/prices/{coin}", Read, get(prices::one)),
        route(
            M::GET,
            "/v1/prices/{coin}/history",
            Read,
            get(price_history::history),
        ),
        route(
            M::GET,
            "/v1/stream/prices",
            Read,
            get(stream_prices::stream),
        ),
        route(M::GET, "/v1/ws/prices", Read, get(ws_prices::upgrade)),
        // A POST that only reads the cache: valuing holdings enqueues nothing.
        route(M::POST, "/v1/portfolio/value", Read, post(portfolio::value)),
        route(M::GET, "/v1/markets", Read, get(markets::list)),
        route(M::GET, "/v1/markets/global", Read, get(markets::global)),
        route(M::GET, "/v1/coins", Read, get(coins::list)),
        route(M::GET, "/v1/coins/{id}", Read, get(markets::coin)),
        route(M::POST, "/v1/tasks", Enqueue, post(tasks::submit)),
        route(
            M::GET,
            "/v1/tasks",
            Status(S::Tasks),
            get(task_search::search),
        ),
        route(M::GET, "/v1/tasks/{id}", Status(S::Tasks), get(tasks::get)),
        route(M::POST, "/v1/alerts", Enqueue, post(alerts::create)),
        route(M::GET, "/v1/alerts", Enqueue, get(alerts::list)),
        route(M::GET, "/v1/alerts/{id}", Enqueue, get(alerts::get)),
        route(
            M::DELETE,
            "/v1/alerts/{id}",
            Enqueue,
            delete(alerts::delete),
        ),
        route(M::GET, "/v1/wallets/{address}", Read, get(wallets::one)),
        route(
            M::POST,
            "/v1/wallets/{address}/analyze",
            Enqueue,
            post(wallets::analyze),
        ),
        route(M::GET, "/v1/queues", Status(S::Queues), get(queues::list)),
        route(
            M::GET,
            "/v1/queues/{queue}/history",
            Status(S::Queues),
            get(queue_history::history),
        ),
        route(
            M::GET,
            "/v1/queues/{queue}/tasks",
            Status(S::Tasks),
            get(queue_tasks::list),
        ),
        route(
            M::GET,
            "/v1/schedules",
            Status(S::Schedules),
            get(schedules::list),
        ),
        route(
            M::GET,
            "/v1/schedules/{entry}/runs",
            Status(S::Schedules),
            get(schedule_control::runs),
        ),
        route(
            M::GET,
            "/v1/workers",
            Status(S::Workers),
            get(workers::list),
        ),
        route(
            M::GET,
            "/v1/health",
            Status(S::Health),
            get(health_report::latest),
        ),
        route(
            M::GET,
            "/v1/rate-limits",
            Status(S::Health),
            get(rate_limits::list),
        ),
        route(M::GET, "/v1/status", Status(S::Health), get(status::status)),
        route(
            M::GET,
            "/v1/admin/queues/{queue}/dead",
            Admin,
            get(dead::list),
        ),
        route(
            M::DELETE,
            "/v1/admin/queues/{queue}/dead",
            Admin,
            delete(dead::purge_all),
        ),
        route(
            M::POST,
            "/v1/admin/queues/{queue}/dead/retry",
            Admin,
            post(dead::retry_all),
        ),
        route(
            M::GET,
            "/v1/admin/queues/{queue}/dead/{id}",
            Admin,
            get(dead::show),
        ),
        route(
            M::DELETE,
            "/v1/admin/queues/{queue}/dead/{id}",
            Admin,
            delete(dead::purge_one),
        ),
        route(
            M::POST,
            "/v1/admin/queues/{queue}/dead/{id}/retry",
            Admin,
            post(dead::retry),
        ),
        route(
            M::DELETE,
            "/v1/admin/queues/{queue}/tasks/{id}",
            Admin,
            delete(waiting_task::delete),
        ),
        route(
            M::POST,
            "/v1/admin/queues/{queue}/tasks/{id}/run",
            Admin,
            post(waiting_task::run),
        ),
        route(
            M::POST,
            "/v1/admin/queues/{queue}/pause",
            Admin,
            post(queue_pause::pause),
        ),
        route(
            M::POST,
            "/v1/admin/queues/{queue}/resume",
            Admin,
            post(queue_pause::resume),
        ),
        route(
            M::POST,
            "/v1/admin/queues/{queue}/purge",
            Admin,
            post(purge::purge),
        ),
        route(
            M::POST,
            "/v1/admin/schedules/{entry}/pause",
            Admin,
            post(schedule_control::pause_entry),
        ),
        route(
            M::POST,
            "/v1/admin/schedules/{entry}/resume",
            Admin,
            post(schedule_control::resume_entry),
        ),
        route(
            M::POST,
            "/v1/admin/schedules/{entry}/run",
            Admin,
            post(schedule_control::run_entry),
        ),
        route(
            M::POST,
            "/v1/admin/prices/refresh",
            Admin,
            post(admin_prices::refresh),
        ),
        route(
            M::GET,
            "/v1/admin/cache/stats",
            Admin,
            get(admin_cache::stats),
        ),
        route(M::GET, "/v1/admin/symbols", Admin, get(admin_symbols::list)),
        route(
            M::POST,
            "/v1/admin/symbols",
            Admin,
            post(admin_symbols::add),
        ),
        route(
            M::DELETE,
            "/v1/admin/symbols",
            Admin,
            delete(admin_symbols::remove_many),
        ),
        route(
            M::DELETE,
            "/v1/admin/symbols/{symbol}",
            Admin,
            delete(admin_symbols::remove),
        ),
        route(M::GET, "/v1/admin/wallets", Admin, get(admin_wallets::list)),
        route(
            M::POST,
            "/v1/admin/wallets",
            Admin,
            post(admin_wallets::add),
        ),
        route(
            M::DELETE,
            "/v1/admin/wallets/{address}",
            Admin,
            delete(admin_wallets::remove),
        ),
        route(M::GET, "/v1/admin/alerts", Admin, get(admin_alerts::list)),
        route(
            M::DELETE,
            "/v1/admin/alerts/{id}",
            Admin,
            delete(admin_alerts::delete),
        ),
    ]
}

/// The routes as (method, path template, access), for tests and documentation.
pub fn endpoints() -> Vec<(Method, &'static str, Access)> {
    table()
        .into_iter()
        .map(|r| (r.method, r.path, r.access))
        .collect()
}

/// A product queue named in a path; 404 `unknown_queue` otherwise.
pub(crate) fn queue_param(raw: &str) -> Result<Queue, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::UnknownQueue(raw.to_owned()))
}

/// Unix milliseconds (0 or absent: none) as an RFC 3339 UTC time.
pub(crate) fn at_ms(ms: Option<u64>) -> Option<DateTime<Utc>> {
    ms.filter(|ms| *ms > 0)
        .and_then(|ms| DateTime::from_timestamp_millis(ms as i64))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::RouteNotFound {
        method,
        path: uri.path().to_owned(),
    }
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    ApiError::Internal(format!("handler panicked: {message}").into()).into_response()
}
