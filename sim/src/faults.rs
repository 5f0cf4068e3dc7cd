//! The gate every provider request passes before its handler: its arrival is logged, then
//! latency, then a one-shot throttle, the per-minute, per-second and per-day limits, then an
//! outage, then injected errors. Each provider turns a [`Refused`] into its own wire format; [`gated`] mounts
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
/// The span of `ProviderFaults::calls_per_day`.
const DAY: Duration = Duration::from_secs(86_400);

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
    let windows = [
        (
            &state.per_second,
            Duration::from_secs(1),
            faults.calls_per_sec,
        ),
        (&state.per_day, DAY, faults.calls_per_day),
    ];
    for (windows, span, limit) in windows {
        if limit == 0 {
            continue;
        }
        let taken = lock(windows)
            .entry(provider)
            .or_insert_with(|| WeightWindow::new(span))
            .try_take(Instant::now(), 1, limit);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ControlRequest, SimConfig};

    fn day_limited(calls: u32) -> SimState {
        let state = SimState::new(&SimConfig::default()).unwrap();
        state
            .control(&ControlRequest {
                provider: Some(Provider::AlphaVantage),
                calls_per_day: Some(calls),
                ..ControlRequest::default()
            })
            .unwrap();
        state
    }

    async fn admit_one(state: &SimState) -> Result<(), Refused> {
        admit(
            state,
            Provider::AlphaVantage,
            "/alphavantage/query",
            "apikey",
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn the_day_limit_slides_over_24_hours_of_running_time() {
        let state = day_limited(2);

        let first = admit_one(&state).await;
        tokio::time::advance(Duration::from_secs(3_600)).await;
        let second = admit_one(&state).await;
        let refused = admit_one(&state).await;
        tokio::time::advance(Duration::from_secs(23 * 3_600)).await;
        let after_a_day = admit_one(&state).await;
        let still_full = admit_one(&state).await;

        assert_eq!([first, second], [Ok(()), Ok(())]);
        assert_eq!(
            refused,
            Err(Refused::RateLimited {
                retry_after_secs: 23 * 3_600
            }),
            "the first call leaves the window 24 h after it came"
        );
        assert_eq!(after_a_day, Ok(()));
        assert_eq!(
            still_full,
            Err(Refused::RateLimited {
                retry_after_secs: 3_600
            })
        );
        let stats = lock(&state.stats).clone();
        assert_eq!(stats.by_provider["alphavantage"].rate_limited, 2);
        assert_eq!(stats.by_provider["alphavantage"].requests, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn the_day_limit_is_one_providers_and_a_reset_empties_it() {
        let state = day_limited(1);

        let first = admit_one(&state).await;
        let other = admit(&state, Provider::CoinGecko, "/api/v3/ping", "none").await;
        let refused = admit_one(&state).await;
        state.reset();
        let after_reset = admit_one(&state).await;

        assert_eq!([first, other, after_reset], [Ok(()), Ok(()), Ok(())]);
        assert!(matches!(refused, Err(Refused::RateLimited { .. })));
    }
}
