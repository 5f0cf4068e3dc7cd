//! `Limiter`: permits for one upstream (and key), shared by every process through Redis.
//!
//! Each attempt is one Lua script on Redis's clock (`lua/acquire.lua`): it checks the
//! push-back block and every window of the [`RateSpec`], and either takes the permits or says
//! how long to wait. The caller sleeps that long (at most [`MAX_SLEEP`]) and tries again, up to
//! its maximum wait.
//!
//! Waiters are served in the order they arrived, across every process: a caller that cannot
//! have its permits at once takes a ticket in the limiter's line (a ZSET scored by Redis's clock
//! at its first attempt), and is granted only when the permits free now cover its cost plus the
//! costs of every ticket ahead of it. So each waiter is told its own turn rather than the next
//! free permit, and no later arrival can take a permit an earlier one is waiting for. A ticket
//! lives by a lease its caller renews at each attempt (its sleep plus [`LEASE_MARGIN`]), and a
//! waiter late for its turn by more than [`LATE_GRACE`] stops counting ahead of the others
//! until it is back: a waiter that dies (a crashed process, a cancelled task) or stalls holds
//! the line up for that grace at most, and its ticket is gone once its lease ends. The
//! uncontended case (no line, a permit free) never touches the line.
//!
//! Two ways to keep a window, chosen per window by its limit:
//!
//! - up to [`LOG_MAX_LIMIT`]: a sliding log, a ZSET of grant times. Exact: a window of `N` per
//!   `P` never holds more than `N` permits in any span of `P + guard`, and lets `N` through
//!   in every such span under sustained demand.
//! - above it (`100000/day`): [`BUCKETS_PER_WINDOW`] buckets per period, a HASH of permits per
//!   bucket. A permit counts as if granted at the end of its bucket, so the count can only be
//!   too high, never too low: it never over-grants, costs at most one bucket (1 % of the
//!   period) of throughput, and holds at most 101 fields however high the limit.
//!
//! The guard: a permit is granted on Redis's clock but counted by the upstream when the
//! request arrives, a few milliseconds later, and that delay varies. Each window therefore
//! counts a grant for `period + guard`. As long as the variation in delay stays under the
//! guard, no window of the upstream's sees more than the limit. The price is throughput: a
//! steady `N/period` becomes `N/(period + guard)`, 95 % of a one-second limit with
//! [`DEFAULT_GUARD`] and nothing measurable for minute or day limits. Every process sharing a
//! limiter counts with the same guard.
//!
//! Permits are not given back when a request fails: the upstreams count every request that
//! reaches them, failed or not.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;

use super::{
    LimiterId, LimiterSnapshot, RateLimitError, RateSpec, RateWindow,
    metrics::redis_instant,
    read_snapshot,
    scripts::{ACQUIRE, PUSH_BACK},
    usage::{LimiterUsage, read_usage},
};
use crate::{
    keys::{Keys, RateLimitKeys},
    queue::stoppable,
};

/// How much longer than its period each window counts a grant. It covers up to
/// 50 ms of variation between the moment Redis grants a permit and the moment the request
/// reaches the upstream, for 5 % of a one-second limit's throughput.
pub const DEFAULT_GUARD: Duration = Duration::from_millis(50);

/// Windows with a limit up to this keep a sliding log (one ZSET entry per grant, so at most
/// this many entries); higher limits use buckets.
pub const LOG_MAX_LIMIT: u32 = 1_000;

/// Buckets per period for windows above [`LOG_MAX_LIMIT`].
pub const BUCKETS_PER_WINDOW: u64 = 100;

/// The longest a waiter sleeps between two attempts, however far away its turn: when those
/// ahead of it leave the line early (they give up, or their turn came sooner than foreseen) it
/// finds out within this long.
pub const MAX_SLEEP: Duration = Duration::from_secs(1);

/// How long past the end of its sleep a waiter's ticket stays in the line without a new
/// attempt; past that it is dropped (a waiter still alive takes its place back).
pub const LEASE_MARGIN: Duration = Duration::from_millis(1_000);

/// How late for its turn a waiter may be before those behind it are served first: what a
/// stalled or dead waiter can cost the line. Descheduled processes on a busy machine are late
/// by milliseconds to tens of milliseconds.
pub const LATE_GRACE: Duration = Duration::from_millis(100);

/// Permits for one limiter. Cheap to clone; every clone, in every process, shares the state in
/// Redis.
#[derive(Debug, Clone)]
pub struct Limiter {
    conn: ConnectionManager,
    keys: Keys,
    rate_keys: RateLimitKeys,
    id: LimiterId,
    spec: RateSpec,
}

/// A granted acquisition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acquired {
    /// How long the caller waited for it; zero when granted at the first attempt.
    pub waited: Duration,
    /// When it was granted, on Redis's clock.
    pub granted_at: DateTime<Utc>,
}

/// What one attempt of the acquire script answered.
enum Attempt {
    Granted { at_us: i64 },
    Wait(Duration),
    Denied(Duration),
}

/// One acquisition's place in the limiter's line: a ticket unique to it, and when it arrived on
/// Redis's clock (0 until the first attempt has said).
struct Ticket {
    id: u64,
    arrival_us: i64,
}

impl Limiter {
    /// A limiter; each grant counts for `period + DEFAULT_GUARD`.
    pub fn new(conn: ConnectionManager, keys: &Keys, id: LimiterId, spec: RateSpec) -> Self {
        Self {
            conn,
            rate_keys: keys.rate_limit(&id),
            keys: keys.clone(),
            id,
            spec,
        }
    }

    pub fn id(&self) -> &LimiterId {
        &self.id
    }

    pub fn spec(&self) -> &RateSpec {
        &self.spec
    }

    /// Takes `cost` permits (1 for most upstreams, the request weight for Binance), waiting
    /// for them if needed, but never longer than `max_wait`: when the next permit is further
    /// away than the wait left, it returns [`RateLimitError::Throttled`] at once, with how long
    /// until that permit, and takes nothing. `max_wait` zero means "only if free now".
    pub async fn acquire(&self, cost: u32, max_wait: Duration) -> Result<Acquired, RateLimitError> {
        let max = self.spec.max_cost().unwrap_or(u32::MAX);
        if cost == 0 || cost > max {
            return Err(RateLimitError::CostOutOfRange {
                limiter: self.id.to_string(),
                cost,
                max,
            });
        }
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut ticket = Ticket {
            id: rand::random(),
            arrival_us: 0,
        };
        loop {
            let budget = max_wait.saturating_sub(waited);
            match self.attempt(cost, waited, budget, &mut ticket).await? {
                Attempt::Granted { at_us } => {
                    return Ok(Acquired {
                        waited,
                        granted_at: redis_instant(at_us),
                    });
                }
                // A job waiting here is stopped here when its worker shuts down.
                Attempt::Wait(wait) => stoppable::sleep(wait.min(MAX_SLEEP)).await,
                Attempt::Denied(retry_after) => {
                    tracing::debug!(limiter = %self.id, ?retry_after, "rate limit: no permit within max wait");
                    return Err(RateLimitError::Throttled {
                        limiter: self.id.to_string(),
                        retry_after,
                        waited,
                    });
                }
            }
            // At least 1 ms, so a later grant always counts as one that waited.
            waited = started.elapsed().max(Duration::from_millis(1));
        }
    }

    /// The upstream pushed back (429 + `Retry-After`, Binance 418, Etherscan "Max rate limit
    /// reached"): every acquisition on this limiter, in every process, waits until `for_` from
    /// now on Redis's clock, or until an earlier push-back's end if that is later. Returns the
    /// blocked-until instant now in force.
    pub async fn push_back(&self, for_: Duration) -> Result<DateTime<Utc>, RateLimitError> {
        let until_us: i64 = PUSH_BACK
            .key(self.rate_keys.blocked_until())
            .key(self.rate_keys.metrics())
            .arg(millis_ceil(for_))
            .invoke_async(&mut self.conn.clone())
            .await?;
        tracing::debug!(limiter = %self.id, ?for_, "rate limit: upstream pushed back");
        Ok(redis_instant(until_us))
    }

    /// The counters and push-back state of this limiter.
    pub async fn snapshot(&self) -> Result<LimiterSnapshot, RateLimitError> {
        read_snapshot(&self.conn, &self.keys, &self.id).await
    }

    /// How much of each window is in use now, and how many callers wait.
    pub async fn usage(&self) -> Result<LimiterUsage, RateLimitError> {
        read_usage(&self.conn, &self.keys, &self.id, &self.spec).await
    }

    async fn attempt(
        &self,
        cost: u32,
        waited: Duration,
        budget: Duration,
        ticket: &mut Ticket,
    ) -> Result<Attempt, RateLimitError> {
        let (line, leases) = (self.rate_keys.line(), self.rate_keys.line_leases());
        let mut invocation = ACQUIRE.prepare_invoke();
        invocation
            .key(self.rate_keys.blocked_until())
            .key(self.rate_keys.metrics())
            .key(self.rate_keys.log_sums())
            .key(line)
            .key(leases)
            .arg(cost)
            .arg(millis_ceil(waited))
            .arg(budget.as_millis() as u64)
            .arg(millis_ceil(DEFAULT_GUARD))
            .arg(rand::random::<u64>())
            .arg(ticket.id)
            .arg(ticket.arrival_us)
            .arg(millis_ceil(MAX_SLEEP))
            .arg(millis_ceil(LEASE_MARGIN))
            .arg(millis_ceil(LATE_GRACE));
        for window in self.spec.windows() {
            let (key, bucket_ms) = window_key(&self.rate_keys, window);
            invocation
                .key(key)
                .arg(window.limit())
                .arg(window.period().as_millis() as u64)
                .arg(bucket_ms);
        }
        let (status, wait_ms, now_us, arrival_us): (i64, u64, i64, i64) =
            invocation.invoke_async(&mut self.conn.clone()).await?;
        ticket.arrival_us = arrival_us;
        let wait = Duration::from_millis(wait_ms);
        Ok(match status {
            1 => Attempt::Granted { at_us: now_us },
            0 => Attempt::Wait(wait),
            _ => Attempt::Denied(wait),
        })
    }
}

/// Where one window of a limiter is kept, and its bucket width in milliseconds: a sliding log
/// (width 0) up to [`LOG_MAX_LIMIT`], buckets above.
pub(super) fn window_key(keys: &RateLimitKeys, window: &RateWindow) -> (String, u64) {
    let period_ms = window.period().as_millis() as u64;
    if window.limit() <= LOG_MAX_LIMIT {
        (keys.log(period_ms), 0)
    } else {
        (
            keys.buckets(period_ms),
            period_ms.div_ceil(BUCKETS_PER_WINDOW),
        )
    }
}

/// Whole milliseconds, rounded up, so a short wait or block is never rounded to nothing.
fn millis_ceil(d: Duration) -> u64 {
    d.as_nanos().div_ceil(1_000_000) as u64
}
