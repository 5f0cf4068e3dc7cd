//! What a limiter has done, counted in Redis across every process, and whether it is blocked
//! by an upstream's push-back: the typed snapshot the API and the health report read.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::{LimiterId, RateLimitError};
use crate::keys::Keys;

/// Counters of one limiter since its metrics key was created (they never expire).
///
/// Field names are those of the metrics HASH in Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimiterMetrics {
    /// Acquisitions granted.
    pub acquired: u64,
    /// Permits granted: the sum of the granted acquisitions' costs (Binance request weight).
    pub permits: u64,
    /// Granted acquisitions that were not granted at their first attempt.
    pub waited: u64,
    /// Total time those acquisitions waited, in milliseconds (measured by each caller).
    pub wait_ms: u64,
    /// Acquisitions refused because no permit came within the caller's maximum wait.
    pub denied: u64,
    /// Push-backs recorded (upstream 429, 418, "Max rate limit reached").
    pub push_backs: u64,
}

/// One limiter as seen at one instant of Redis's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimiterSnapshot {
    /// The limiter's id (`etherscan:k1a2b3c4d5e6f`): a key fingerprint, never a key.
    pub limiter: String,
    pub metrics: LimiterMetrics,
    /// Until when every acquisition waits because the upstream pushed back; `None` when not
    /// blocked.
    pub blocked_until: Option<DateTime<Utc>>,
    /// Redis's clock when the snapshot was taken (the clock `blocked_until` is on).
    pub taken_at: DateTime<Utc>,
}

impl LimiterSnapshot {
    /// How much longer the push-back block lasts, on Redis's clock.
    pub fn blocked_for(&self) -> Option<Duration> {
        self.blocked_until
            .and_then(|until| (until - self.taken_at).to_std().ok())
            .filter(|d| !d.is_zero())
    }
}

/// Reads the metrics and the push-back state of one limiter, in one atomic round trip.
pub async fn read_snapshot(
    conn: &ConnectionManager,
    keys: &Keys,
    limiter: &LimiterId,
) -> Result<LimiterSnapshot, RateLimitError> {
    let k = keys.rate_limit(limiter);
    let ((secs, micros), blocked, fields): ((i64, i64), Option<i64>, HashMap<String, u64>) =
        redis::pipe()
            .atomic()
            .cmd("TIME")
            .get(k.blocked_until())
            .hgetall(k.metrics())
            .query_async(&mut conn.clone())
            .await?;
    let now_us = secs * 1_000_000 + micros;
    let count = |name: &str| fields.get(name).copied().unwrap_or_default();
    Ok(LimiterSnapshot {
        limiter: limiter.to_string(),
        metrics: LimiterMetrics {
            acquired: count("acquired"),
            permits: count("permits"),
            waited: count("waited"),
            wait_ms: count("wait_ms"),
            denied: count("denied"),
            push_backs: count("push_backs"),
        },
        blocked_until: blocked.filter(|until| *until > now_us).map(redis_instant),
        taken_at: redis_instant(now_us),
    })
}

/// An instant on Redis's clock, in microseconds since the Unix epoch.
pub(crate) fn redis_instant(unix_micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(unix_micros).unwrap_or_default()
}
