//! The gate every provider request passes before its handler: its arrival is logged, then
//! latency, then a one-shot throttle, the per-minute and per-second limits, then an outage, then
//! injected errors. Each provider turns a [`Verdict`] into its own wire format.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use crate::Provider;
use crate::limiter::{WeightWindow, retry_after_secs};
use crate::rng;
use crate::state::{SimState, lock};
use crate::stats::Refusal;

/// The seed's stream for injected errors (coins use streams from 0).
const ERROR_STREAM: u64 = u64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    RateLimited { retry_after_secs: u64 },
    Down,
    InjectedError,
}

/// Counts the request, waits the provider's latency and decides whether it gets through.
pub(crate) async fn admit(
    state: &SimState,
    provider: Provider,
    endpoint: &str,
    auth: &str,
) -> Verdict {
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
        return Verdict::RateLimited { retry_after_secs };
    }
    let limit = faults.rate_limit_per_minute;
    let admitted = lock(&state.limiters)
        .entry(provider)
        .or_default()
        .try_admit(Instant::now(), limit);
    if let Err(wait) = admitted {
        lock(&state.stats).record_refusal(provider, Refusal::RateLimited);
        return Verdict::RateLimited {
            retry_after_secs: retry_after_secs(wait),
        };
    }
    if faults.calls_per_sec > 0 {
        let taken = lock(&state.per_second)
            .entry(provider)
            .or_insert_with(|| WeightWindow::new(Duration::from_secs(1)))
            .try_take(Instant::now(), 1, faults.calls_per_sec);
        if let Err(full) = taken {
            lock(&state.stats).record_refusal(provider, Refusal::RateLimited);
            return Verdict::RateLimited {
                retry_after_secs: retry_after_secs(full.wait),
            };
        }
    }
    if faults.down {
        lock(&state.stats).record_refusal(provider, Refusal::Down);
        return Verdict::Down;
    }
    let n = state.admitted.fetch_add(1, Ordering::Relaxed);
    if rng::unit(state.seed, ERROR_STREAM, n) < faults.error_rate {
        lock(&state.stats).record_refusal(provider, Refusal::InjectedError);
        return Verdict::InjectedError;
    }
    Verdict::Pass
}
