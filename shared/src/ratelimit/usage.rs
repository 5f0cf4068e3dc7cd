//! How much of its limit a limiter is using right now: per window, the permits the acquire
//! script would count at this instant against the window's limit, and the callers waiting in
//! its line. Read-only, one script on Redis's clock; what the dashboard's upstreams page shows
//! live (the counters in [`super::LimiterSnapshot`] only ever grow).

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::{
    DEFAULT_GUARD, LimiterId, RateLimitError, RateSpec, limiter::window_key,
    metrics::redis_instant, scripts::USAGE,
};
use crate::keys::Keys;

/// One window of a limiter at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowUsage {
    /// Permits the window allows.
    pub limit: u32,
    /// The window's length, in seconds.
    pub period_secs: u64,
    /// Permits it holds now: granted within the last period (and the guard), so not free
    /// again yet. Never more than `limit`.
    pub used: u64,
}

/// A limiter's use of its limit at one instant of Redis's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimiterUsage {
    /// One entry per window of the limit, shortest first; none when the limit is `off`.
    pub windows: Vec<WindowUsage>,
    /// Callers (in every process) waiting in the limiter's line for a permit.
    pub waiting: u64,
    /// Until when every acquisition waits because the upstream pushed back; `None` when not
    /// blocked.
    pub blocked_until: Option<DateTime<Utc>>,
    /// Redis's clock when it was read.
    pub taken_at: DateTime<Utc>,
}

/// Reads one limiter's use of `spec` (the limit its callers acquire with), in one round trip.
pub async fn read_usage(
    conn: &ConnectionManager,
    keys: &Keys,
    limiter: &LimiterId,
    spec: &RateSpec,
) -> Result<LimiterUsage, RateLimitError> {
    let k = keys.rate_limit(limiter);
    let mut invocation = USAGE.prepare_invoke();
    invocation
        .key(k.blocked_until())
        .key(k.line())
        .key(k.line_leases())
        .arg(DEFAULT_GUARD.as_millis() as u64);
    for window in spec.windows() {
        let (key, bucket_ms) = window_key(&k, window);
        invocation
            .key(key)
            .arg(window.limit())
            .arg(window.period().as_millis() as u64)
            .arg(bucket_ms);
    }
    let answer: Vec<i64> = invocation.invoke_async(&mut conn.clone()).await?;
    let [now_us, blocked_us, waiting, used @ ..] = answer.as_slice() else {
        let short = (
            redis::ErrorKind::UnexpectedReturnType,
            "usage.lua answered too little",
        );
        return Err(RateLimitError::Redis(short.into()));
    };
    Ok(LimiterUsage {
        windows: spec
            .windows()
            .iter()
            .zip(used)
            .map(|(w, used)| WindowUsage {
                limit: w.limit(),
                period_secs: w.period().as_secs(),
                used: (*used).max(0) as u64,
            })
            .collect(),
        waiting: (*waiting).max(0) as u64,
        blocked_until: (*blocked_us > 0).then(|| redis_instant(*blocked_us)),
        taken_at: redis_instant(*now_us),
    })
}

impl LimiterUsage {
    /// How much longer the push-back block lasts, on Redis's clock.
    pub fn blocked_for(&self) -> Option<Duration> {
        self.blocked_until
            .and_then(|until| (until - self.taken_at).to_std().ok())
            .filter(|d| !d.is_zero())
    }
}
