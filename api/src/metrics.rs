//! The API's own metrics: every request counted and timed by route template, method and
//! status, in a middleware that sees the final response (after the error reshaping, the
//! timeout and the panic catcher); and the connections refused at accept.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use coinbeat_shared::metrics::{Counter, HTTP_BUCKETS, Histogram, Registry};

/// The label of requests no route matched (404s of unknown paths): one series for all of
/// them, so a scanner cannot grow the label set without bound.
pub const UNMATCHED: &str = "unmatched";

/// Request counters and durations. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Counter,
    duration: Histogram,
    refused: Counter,
}

impl HttpMetrics {
    pub fn new(registry: &Registry) -> Self {
        const LABELS: &[&str] = &["route", "method", "status"];
        Self {
            requests: registry.counter(
                "coinbeat_http_requests_total",
                "HTTP requests answered, by route template, method and status.",
                LABELS,
            ),
            duration: registry.histogram(
                "coinbeat_http_request_duration_seconds",
                "Time from the request's arrival to its response's headers, by route template, \
                 method and status.",
                LABELS,
                HTTP_BUCKETS,
            ),
            refused: registry.counter(
                "coinbeat_http_connections_refused_total",
                "Connections closed at accept, by the cap they met: `process` \
                 (api.max_connections) or `client` (api.max_connections_per_client).",
                &["cap"],
            ),
        }
    }

    /// A connection closed at accept because of `cap`.
    pub fn connection_refused(&self, cap: &str) {
        self.refused.inc(&[cap]);
    }
}

/// The middleware: labels a request with its route template (`/v1/prices/{coin}`, never the
/// path itself, so the series stay few).
pub async fn track(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let labels = [route.as_str(), method.as_str(), status.as_str()];
    metrics.requests.inc(&labels);
    metrics
        .duration
        .observe(&labels, started.elapsed().as_secs_f64());
    response
}
