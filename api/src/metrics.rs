//! The API's own metrics: every request counted and timed by route template, method and
//! status, in a middleware that sees the final response (after the error reshaping, the
//! timeout and the panic catcher); and the connections refused at accept.
//!
//! Each (route, method, status) is bound to its series the first time it is seen, so a request
//! records with two atomic adds: no label strings built, no registry lock.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, PoisonError, RwLock},
    task::{Context, Poll},
    time::Instant,
};

use axum::http::{Method, Request, StatusCode};
use coinbeat_shared::metrics::{
    BoundCounter, BoundHistogram, Counter, HTTP_BUCKETS, Histogram, Registry,
};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::auth::RouteTemplate;

/// The label of requests no route answered (404s of unknown paths, 405s of wrong methods): one
/// series for all of them, so a scanner cannot grow the label set without bound.
pub const UNMATCHED: &str = "unmatched";

/// Request counters and durations. Cheap to clone: one `Arc`, cloned into every request's
/// [`Tracked`] future.
#[derive(Debug, Clone)]
pub struct HttpMetrics(Arc<Families>);

#[derive(Debug)]
struct Families {
    requests: Counter,
    duration: Histogram,
    refused: Counter,
    bound: RwLock<Bound>,
}

/// Bound series by route template, then by method and status (a route sees a handful).
type Bound = HashMap<Box<str>, Vec<(Method, StatusCode, BoundCounter, BoundHistogram)>>;

impl HttpMetrics {
    pub fn new(registry: &Registry) -> Self {
        const LABELS: &[&str] = &["route", "method", "status"];
        Self(Arc::new(Families {
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
            bound: RwLock::default(),
        }))
    }

    /// A connection closed at accept because of `cap`.
    pub fn connection_refused(&self, cap: &str) {
        self.0.refused.inc(&[cap]);
    }

    /// Counts and times one answer.
    fn record(&self, route: &str, method: &Method, status: StatusCode, seconds: f64) {
        let same = |(m, s, _, _): &&(Method, StatusCode, _, _)| m == method && *s == status;
        {
            let bound = self.0.bound.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, _, count, time)) = bound.get(route).and_then(|v| v.iter().find(same)) {
                count.inc();
                time.observe(seconds);
                return;
            }
        }
        let labels = [route, method.as_str(), status.as_str()];
        let (count, time) = (self.0.requests.bind(&labels), self.0.duration.bind(&labels));
        count.inc();
        time.observe(seconds);
        let mut bound = self.0.bound.write().unwrap_or_else(PoisonError::into_inner);
        let series = bound.entry(route.into()).or_default();
        if !series.iter().any(|entry| same(&entry)) {
            series.push((method.clone(), status, count, time));
        }
    }
}

/// The layer that counts and times every answer ([`Track`]).
#[derive(Debug, Clone)]
pub struct TrackLayer(pub HttpMetrics);

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// Labels each answer with its route template (`/v1/prices/{coin}`, never the path itself, so
/// the series stay few), as the route's gate left it on the response, its method and status.
/// A plain service (no boxed future, no clone of the stack below it per request).
#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
    metrics: HttpMetrics,
}

impl<S, B, R> Service<Request<B>> for Track<S>
where
    S: Service<Request<B>, Response = axum::http::Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        Tracked {
            started: Instant::now(),
            method: request.method().clone(),
            metrics: self.metrics.clone(),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// [`Track`]'s future: the inner one, then the count.
    #[derive(Debug)]
    pub struct Tracked<F> {
        #[pin]
        inner: F,
        started: Instant,
        method: Method,
        metrics: HttpMetrics,
    }
}

impl<F, R, E> Future for Tracked<F>
where
    F: Future<Output = Result<axum::http::Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            let route = response
                .extensions()
                .get::<RouteTemplate>()
                .map_or(UNMATCHED, |RouteTemplate(path)| path);
            this.metrics.record(
                route,
                this.method,
                response.status(),
                this.started.elapsed().as_secs_f64(),
            );
        }
        Poll::Ready(result)
    }
}
