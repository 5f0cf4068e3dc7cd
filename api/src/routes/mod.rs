//! The router: every route, the 404 fallback, and the middleware around them.
//!
//! | route | file |
//! |---|---|
//! | `GET /v1/prices`, `GET /v1/prices/{symbol}` | [`prices`] |
//! | `GET /v1/markets`, `GET /v1/markets/global`, `GET /v1/coins/{id}` | [`markets`] |
//! | `POST /v1/tasks`, `GET /v1/tasks/{id}` | [`tasks`] |
//! | `GET /v1/wallets/{address}`, `POST /v1/wallets/{address}/analyze` | [`wallets`] |
//! | `GET /v1/queues` | [`queues`] |
//! | `GET /healthz`, `GET /readyz` | [`health`] |
//! | `GET /metrics` | [`metrics`] |

use std::any::Any;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{Method, StatusCode, Uri},
    middleware::{from_fn_with_state, map_response},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    timeout::TimeoutLayer,
    trace::{DefaultOnFailure, TraceLayer},
};

use crate::{ApiError, AppState, error::reshape};

pub mod health;
pub mod health_report;
pub mod markets;
pub mod metrics;
pub mod prices;
pub mod queues;
pub mod schedules;
pub mod tasks;
pub mod wallets;

/// The whole API, ready to serve.
///
/// Middleware, outermost first: request metrics ([`crate::metrics::track`], so they count the
/// final status); a trace span per request; [`reshape`], so the errors the layers
/// below produce share the one error shape; the request timeout (503); the body limit
/// (`api.max_body_bytes`, 413); a panic catcher (500).
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes();
    let timeout = state.request_timeout();
    let http_metrics = state.http_metrics().clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/v1/prices", get(prices::list))
        .route("/v1/prices/{symbol}", get(prices::one))
        .route("/v1/markets", get(markets::list))
        .route("/v1/markets/global", get(markets::global))
        .route("/v1/coins/{id}", get(markets::coin))
        .route("/v1/tasks", post(tasks::submit))
        .route("/v1/tasks/{id}", get(tasks::get))
        .route("/v1/wallets/{address}", get(wallets::one))
        .route("/v1/wallets/{address}/analyze", post(wallets::analyze))
        .route("/v1/queues", get(queues::list))
        .route("/v1/schedules", get(schedules::list))
        .route("/v1/health", get(health_report::latest))
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
        }))
        // Failures are logged where their cause is known (`ApiError`, `reshape`); the trace
        // layer would log each 503 of a Redis outage a second time, without the cause.
        .layer(
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        // `Router::layer` runs after routing, so the route template (`MatchedPath`) is known.
        .layer(from_fn_with_state(http_metrics, crate::metrics::track))
        .with_state(state)
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
