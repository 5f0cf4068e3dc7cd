//! The router: every route, the 404 fallback, and the middleware around them.
//!
//! | route | file |
//! |---|---|
//! | `GET /v1/prices`, `GET /v1/prices/{symbol}` | [`prices`] |
//! | `POST /v1/tasks`, `GET /v1/tasks/{id}` | [`tasks`] |
//! | `GET /v1/queues` | [`queues`] |
//! | `GET /healthz`, `GET /readyz` | [`health`] |

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{Method, StatusCode, Uri},
    middleware::map_response,
    response::Response,
    routing::{get, post},
};
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer, trace::TraceLayer};

use crate::{ApiError, AppState, error::reshape};

pub mod health;
pub mod prices;
pub mod queues;
pub mod tasks;

/// The whole API, ready to serve.
///
/// Middleware, outermost first: a trace span per request; [`reshape`], so the errors the layers
/// below produce share the one error shape; the request timeout (503); the body limit
/// (`api.max_body_bytes`, 413).
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes();
    let timeout = state.request_timeout();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/v1/prices", get(prices::list))
        .route("/v1/prices/{symbol}", get(prices::one))
        .route("/v1/tasks", post(tasks::submit))
        .route("/v1/tasks/{id}", get(tasks::get))
        .route("/v1/queues", get(queues::list))
        .fallback(not_found)
        // `Router::layer` turns each layer's response body back into axum's, so `reshape` sees
        // plain responses. The last layer added is the outermost.
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
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::RouteNotFound {
        method,
        path: uri.path().to_owned(),
    }
}
