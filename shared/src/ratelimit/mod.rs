//! A distributed rate limiter in Redis: one limiter per upstream (and per API key where the
//! upstream limits per key), several windows at once, shared by every worker process.
//!
//! - [`RateSpec`]: the configured limits (`30/min`, `3/s, 100000/day`), parsed at the edge.
//! - [`LimiterId`] and [`Provider`]: which limiter; a key appears only as a short fingerprint.
//! - [`Limiter`]: `acquire(cost, max_wait)` and `push_back(for_)`, one Lua script per attempt
//!   on Redis's clock; waiters are served in arrival order through a line in Redis (see
//!   `limiter.rs` for the algorithm, its guard and the line).
//! - [`LimiterSnapshot`] and [`read_snapshot`]: the counters kept in Redis per limiter and
//!   the push-back state, for the API and the health report.
//! - [`LimiterUsage`] and [`read_usage`]: each window's permits in use now against its limit,
//!   and the callers waiting, read-only (the dashboard's live view).
//! - [`RateLimitError`]: throttled, impossible cost, or Redis; converts into a `JobError`.

mod error;
mod limiter;
mod limiter_id;
mod metrics;
mod scripts;
mod spec;
mod usage;

pub use error::RateLimitError;
pub use limiter::{
    Acquired, BUCKETS_PER_WINDOW, DEFAULT_GUARD, LATE_GRACE, LEASE_MARGIN, LOG_MAX_LIMIT, Limiter,
    MAX_SLEEP,
};
pub use limiter_id::{FINGERPRINT_HEX, LimiterId, Provider};
pub use metrics::{LimiterMetrics, LimiterSnapshot, read_snapshot};
pub use spec::{MAX_WINDOW, RateSpec, RateSpecError, RateWindow};
pub use usage::{LimiterUsage, WindowUsage, read_usage};
