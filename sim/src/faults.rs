//! The gate every provider request passes before its handler: latency, then the per-minute limit,
//! then an outage, then injected errors. Each provider turns a [`Verdict`] into its own wire format.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use crate::limiter::retry_after_secs;
use crate::rng;
use crate::state::{SimState, lock};

/// The seed's stream for injected errors (coins use streams from 0).
const ERROR_STREAM: u64 = u64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    RateLimited { retry_after_secs: u64 },
    Down,
    InjectedError,
}

/// Counts the request, waits the configured latency and decides whether it gets through.
pub(crate) async fn admit(state: &SimState, endpoint: &str, auth: &str) -> Verdict {
    lock(&state.stats).record_request(endpoint, auth);
    let latency_ms = lock(&state.faults).latency_ms;
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    // Read again after the delay, so a change made meanwhile applies at once.
    let faults = *lock(&state.faults);
    let limit = faults.rate_limit_per_minute;
    if let Err(wait) = lock(&state.limiter).try_admit(Instant::now(), limit) {
        lock(&state.stats).rate_limited += 1;
        return Verdict::RateLimited {
            retry_after_secs: retry_after_secs(wait),
        };
    }
    if faults.down {
        lock(&state.stats).down_rejections += 1;
        return Verdict::Down;
    }
    let n = state.admitted.fetch_add(1, Ordering::Relaxed);
    if rng::unit(state.seed, ERROR_STREAM, n) < faults.error_rate {
        lock(&state.stats).injected_errors += 1;
        return Verdict::InjectedError;
    }
    Verdict::Pass
}
