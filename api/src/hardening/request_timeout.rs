//! The request timeout: a request not answered within `AppState::request_timeout` (three times
//! `api.redis_timeout_ms`, at least 10 s) gets a 503
//! (given the error shape by `reshape`, which also logs it).
//!
//! Unlike `tower_http`'s `TimeoutLayer`, which puts a timer in tokio's wheel for every request,
//! the timer is armed only when the handler does not answer on its first poll: a cached read
//! answers at once, and arming and cancelling a timer per request was a measurable part of its
//! cost (the wheel's insert and remove, and a clock read each). The deadline is still counted
//! from the moment the request reached this layer.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::{body::Body, http::StatusCode, response::Response};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

/// Answers 503 (empty body) to a request its inner service has not answered within `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeoutLayer {
    timeout: Duration,
}

impl RequestTimeoutLayer {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// See [`RequestTimeoutLayer`].
#[derive(Debug, Clone)]
pub struct RequestTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S, R> Service<R> for RequestTimeout<S>
where
    S: Service<R, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        TimeoutFuture {
            inner: self.inner.call(request),
            deadline: Instant::now() + self.timeout,
            sleep: None,
        }
    }
}

pin_project! {
    /// The inner response, or a 503 once the deadline passes.
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        deadline: Instant,
        // Armed at the first poll the inner future does not finish.
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl<F, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(answer) = this.inner.poll(cx) {
            return Poll::Ready(answer);
        }
        if this.sleep.is_none() {
            this.sleep
                .set(Some(tokio::time::sleep_until(*this.deadline)));
        }
        if let Some(sleep) = this.sleep.as_pin_mut() {
            ready!(sleep.poll(cx));
        }
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{ServiceExt, service_fn};

    use super::*;

    fn answer_after(delay: Duration) -> impl Service<(), Response = Response, Error = Infallible> {
        service_fn(move |()| async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, Infallible>(Response::new(Body::from("answered")))
        })
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_within_the_deadline_passes_and_a_late_one_is_a_503_at_the_deadline() {
        let layer = RequestTimeoutLayer::new(Duration::from_secs(10));
        let at_once = layer.layer(answer_after(Duration::ZERO)).oneshot(()).await;
        assert_eq!(at_once.unwrap().status(), StatusCode::OK);

        let waits = layer
            .layer(answer_after(Duration::from_secs(9)))
            .oneshot(())
            .await;
        assert_eq!(waits.unwrap().status(), StatusCode::OK);

        let started = Instant::now();
        let late = layer
            .layer(answer_after(Duration::from_secs(11)))
            .oneshot(())
            .await
            .unwrap();
        assert_eq!(late.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    /// The deadline runs from the call, not from the first poll that had to wait.
    #[tokio::test(start_paused = true)]
    async fn the_deadline_counts_from_the_call() {
        let layer = RequestTimeoutLayer::new(Duration::from_secs(10));
        let started = Instant::now();
        let pending = layer.layer(answer_after(Duration::from_secs(60))).call(());
        tokio::time::sleep(Duration::from_secs(4)).await;
        let late = pending.await.unwrap();
        assert_eq!(late.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }
}
