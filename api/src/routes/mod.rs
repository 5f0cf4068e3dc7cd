//! The router: every route, the 404 fallback, and the middleware around them.
//!
//! | route | file |
//! |---|---|
//! | `GET /v1/prices`, `GET /v1/prices/{symbol}` | [`prices`] |
//! | `GET /v1/prices/{symbol}/history` | [`price_history`] |
//! | `GET /v1/stream/prices` (Server-Sent Events) | [`stream_prices`] |
//! | `GET /v1/ws/prices` (WebSocket) | [`ws_prices`] |
//! | `POST /v1/portfolio/value` | [`portfolio`] |
//! | `GET /v1/markets`, `GET /v1/markets/global`, `GET /v1/coins/{id}` | [`markets`] |
//! | `POST /v1/tasks`, `GET /v1/tasks/{id}` | [`tasks`] |
//! | `GET /v1/wallets/{address}`, `POST /v1/wallets/{address}/analyze` | [`wallets`] |
//! | `GET /v1/queues` | [`queues`] |
//! | `GET /v1/schedules` | [`schedules`] |
//! | `GET /v1/schedules/{entry}/runs` | [`schedule_control`] |
//! | `GET /v1/workers` | [`workers`] |
//! | `GET /v1/health` | [`health_report`] |
//! | `GET /healthz`, `GET /readyz` | [`health`] |
//! | `GET /metrics` | [`metrics`] |
//!
//! Admin routes, every one behind [`admin_auth::require_admin`] (`api.admin_token`):
//!
//! | route | file |
//! |---|---|
//! | `GET`, `DELETE /v1/admin/queues/{queue}/dead`; `POST .../dead/retry` | [`dead`] |
//! | `GET`, `DELETE /v1/admin/queues/{queue}/dead/{id}`; `POST .../dead/{id}/retry` | [`dead`] |
//! | `POST /v1/admin/queues/{queue}/purge` | [`purge`] |
//! | `POST /v1/admin/schedules/{entry}/pause`, `.../resume`, `.../run` | [`schedule_control`] |

use std::any::Any;

use axum::{
    Router,
    body::Body,
    extract::DefaultBodyLimit,
    http::{Method, Request, StatusCode, Uri},
    middleware::{from_fn_with_state, map_request, map_response},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::jobs::Queue;
use tower_http::{
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::{DefaultOnFailure, TraceLayer},
};

use crate::{
    ApiError, AppState,
    admin_auth::require_admin,
    error::reshape,
    hardening::{
        self,
        client_limit::{self, ClientLimiter},
        request_id,
    },
};

pub mod dead;
pub mod health;
pub mod health_report;
pub mod markets;
pub mod metrics;
pub mod portfolio;
pub mod price_history;
pub mod prices;
pub mod purge;
pub mod queues;
pub mod schedule_control;
pub mod schedules;
pub mod stream_prices;
pub mod tasks;
pub mod wallets;
pub mod workers;
pub mod ws_prices;

/// The whole API, ready to serve.
///
/// Middleware, outermost first: the request id ([`hardening::request_id`]); the security
/// headers; CORS when `api.cors_origins` names origins; request metrics
/// ([`crate::metrics::track`], so they count the final status); a trace span per request
/// (with its request id); the per-client rate limit ([`hardening::client_limit`], 429);
/// [`reshape`], so the errors the layers below produce share the one error shape; the request
/// timeout (503); the body limit (`api.max_body_bytes`, 413); a panic catcher (500).
///
/// `api.cors_origins` must have been checked with [`hardening::cors::layer`] (as
/// [`crate::serve`] does); an origin that does not parse is left out here.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes();
    let timeout = state.request_timeout();
    let http_metrics = state.http_metrics().clone();
    let api = &state.settings().api;
    let client_limiter = ClientLimiter::new(api.client_rate_per_sec, api.client_burst);
    let cors = hardening::cors::layer(&api.cors_origins).ok().flatten();
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/v1/prices", get(prices::list))
        .route("/v1/prices/{symbol}", get(prices::one))
        .route("/v1/prices/{symbol}/history", get(price_history::history))
        .route("/v1/stream/prices", get(stream_prices::stream))
        .route("/v1/ws/prices", get(ws_prices::upgrade))
        .route("/v1/portfolio/value", post(portfolio::value))
        .route("/v1/markets", get(markets::list))
        .route("/v1/markets/global", get(markets::global))
        .route("/v1/coins/{id}", get(markets::coin))
        .route("/v1/tasks", post(tasks::submit))
        .route("/v1/tasks/{id}", get(tasks::get))
        .route("/v1/wallets/{address}", get(wallets::one))
        .route("/v1/wallets/{address}/analyze", post(wallets::analyze))
        .route("/v1/queues", get(queues::list))
        .route("/v1/schedules", get(schedules::list))
        .route("/v1/schedules/{entry}/runs", get(schedule_control::runs))
        .route("/v1/workers", get(workers::list))
        .route("/v1/health", get(health_report::latest))
        .merge(admin(state.clone()))
        .fallback(not_found)
        // `Router::layer` turns each layer's response body back into axum's, so `reshape` sees
        // plain responses. The last layer added is the outermost.
        // A bug that panics answers 500 in the error shape (and is logged), not a dropped
        // connection.
        .layer(CatchPanicLayer::custom(panic_response))
        // axum's extractors apply their own default limit (2 MiB); make it agree.
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(map_response(move |response: Response| async move {
            reshape(response, limit)
        }));
    let routes = match client_limiter {
        Some(limiter) => routes.layer(from_fn_with_state(limiter, client_limit::limit)),
        None => routes,
    };
    let routes = routes
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
        // `Router::layer` runs after routing, so the route template (`MatchedPath`) is known.
        .layer(from_fn_with_state(http_metrics, crate::metrics::track));
    let routes = match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    let routes = hardening::security_headers::all()
        .into_iter()
        .fold(routes, |routes, (name, value)| {
            routes.layer(SetResponseHeaderLayer::if_not_present(name, value))
        });
    routes
        .layer(PropagateRequestIdLayer::new(
            request_id::X_REQUEST_ID.clone(),
        ))
        .layer(SetRequestIdLayer::new(
            request_id::X_REQUEST_ID.clone(),
            request_id::MakeUlid,
        ))
        .layer(map_request(|request: Request<Body>| async move {
            request_id::sanitize(request)
        }))
        .with_state(state)
}

/// The admin routes; `route_layer` puts the guard on every one of them (and on nothing else:
/// an unknown admin path is still a plain 404).
fn admin(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/admin/queues/{queue}/dead",
            get(dead::list).delete(dead::purge_all),
        )
        .route("/v1/admin/queues/{queue}/dead/retry", post(dead::retry_all))
        .route(
            "/v1/admin/queues/{queue}/dead/{id}",
            get(dead::show).delete(dead::purge_one),
        )
        .route(
            "/v1/admin/queues/{queue}/dead/{id}/retry",
            post(dead::retry),
        )
        .route("/v1/admin/queues/{queue}/purge", post(purge::purge))
        .route(
            "/v1/admin/schedules/{entry}/pause",
            post(schedule_control::pause_entry),
        )
        .route(
            "/v1/admin/schedules/{entry}/resume",
            post(schedule_control::resume_entry),
        )
        .route(
            "/v1/admin/schedules/{entry}/run",
            post(schedule_control::run_entry),
        )
        .route_layer(axum::middleware::from_fn_with_state(state, require_admin))
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
