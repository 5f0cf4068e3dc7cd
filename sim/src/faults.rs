//! The gate every provider request passes before its handler: its arrival is logged, then
//! latency, then a one-shot throttle, the per-minute and per-second limits, then an outage, then
//! injected errors. Each provider turns a [`Refused`] into its own wire format; [`gated`] mounts
//! a provider's endpoints behind that gate.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::Provider;
use crate::limiter::{WeightWindow, retry_after_secs};
use crate::rng;
use crate::state::{SimState, lock};
use crate::stats::Refusal;

/// The seed's stream for injected errors (coins use streams from 0).
const ERROR_STREAM: u64 = u64::MAX;

/// Why [`admit`] turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    RateLimited { retry_after_secs: u64 },
    Down,
    InjectedError,
}

/// How a provider answers a request [`admit`] refused, in its own wire format.
pub(crate) type Refuse = fn(&SimState, Refused) -> Response;

/// `endpoints` nested at `base`, each request first through [`admit`] as `provider`'s (with no
/// credentials to count), a refusal answered by `refuse`. A route layer runs after routing, so
/// unknown paths are plain 404s that count nowhere.
pub(crate) fn gated(
    state: Arc<SimState>,
    provider: Provider,
    base: &str,
    endpoints: Router<Arc<SimState>>,
    refuse: Refuse,
) -> Router<Arc<SimState>> {
    gated_as(state, provider, base, endpoints, |_| "none", refuse)
}

/// How a request authenticated, as [`crate::Stats::by_auth`] counts it (`none`, `bearer`, ...).
pub(crate) type AuthLabel = fn(&Request) -> &'static str;

/// [`gated`], counting each request's credentials as `auth` names them.
pub(crate) fn gated_as(
    state: Arc<SimState>,
    provider: Provider,
    base: &str,
    endpoints: Router<Arc<SimState>>,
    auth: AuthLabel,
    refuse: Refuse,
) -> Router<Arc<SimState>> {
    let gate = move |State(state): State<Arc<SimState>>,
                     path: MatchedPath,
                     request: Request,
                     next: Next| async move {
        match admit(&state, provider, path.as_str(), auth(&request)).await {
            Ok(()) => next.run(request).await,
            Err(refused) => refuse(&state, refused),
        }
    };
    Router::new().nest(
        base,
        endpoints.route_layer(middleware::from_fn_with_state(state, gate)),
    )
}

/// `status` with its reason phrase as a plain-text body: how the sim answers a refusal for a
/// provider whose own error answers are undocumented.
pub(crate) fn plain(status: StatusCode) -> Response {
    (status, status.canonical_reason().unwrap_or_default()).into_response()
}

/// Counts the request, waits the provider's latency and decides whether it gets through.
pub(crate) async fn admit(
    state: &SimState,
    provider: Provider,
    endpoint: &str,
    auth: &str,
) -> Result<(), Refused> {
    lock(&state.stats).record_request(provider, endpoint, auth);
    lock(&state.arrivals).record(provider);
    let latency_ms = lock(&state.faults).effective(provider).latency_ms;
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    // Read again after the delay, so a change made meanwhile applies at once.
    let faults = lock(&state.faults).effective(provider);
    if let Some(retry_after_secs) = lock(&state.throttle_once).remove(&provider) {
        lock(&state.stats).record_refusal(provider, Refusal::RateLimited);
        return Err(Refused::RateLimited { retry_after_secs });
    }
    let limit = faults.rate_limit_per_minute;
    let admitted = lock(&state.limiters)
        .entry(provider)
        .or_default()
        .try_admit(Instant::now(), limit);
    if let Err(wait) = admitted {
        lock(&state.stats).record_refusal(provider, Refusal::RateLimited);
        return Err(Refused::RateLimited {
            retry_after_secs: retry_after_secs(wait),
        });
    }
    if faults.calls_per_sec > 0 {
        let taken = lock(&state.per_second)
            .entry(provider)
            .or_insert_with(|| WeightWindow::new(Duration::from_secs(1)))
            .try_take(Instant::now(), 1, faults.calls_per_sec);
        if let Err(full) = taken {
            lock(&state.stats).record_refusal(provider, Refusal::RateLimited);
            return Err(Refused::RateLimited {
                retry_after_secs: retry_after_secs(full.wait),
            });
        }
    }
    if faults.down {
        lock(&state.stats).record_refusal(provider, Refusal::Down);
        return Err(Refused::Down);
    }
    let n = state.admitted.fetch_add(1, Ordering::Relaxed);
    if rng::unit(state.seed, ERROR_STREAM, n) < faults.error_rate {
        lock(&state.stats).record_refusal(provider, Refusal::InjectedError);
        return Err(Refused::InjectedError);
    }
    Ok(())
}
