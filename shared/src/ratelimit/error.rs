//! Errors of the rate limiter, and how a job turns each into a retry decision.

use std::time::Duration;

use crate::queue::JobError;

/// Why an acquisition (or a push-back, or a snapshot) failed.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// No permit within the caller's `max_wait`; the next one is expected `retry_after` from
    /// the last attempt. Counted as a denial in the limiter's metrics. Nothing was taken.
    #[error(
        "rate limit of {limiter} reached: no permit within {waited:?}, next expected in {retry_after:?}"
    )]
    Throttled {
        limiter: String,
        retry_after: Duration,
        waited: Duration,
    },
    /// A cost of zero, or more than the smallest window allows: it could never be granted.
    #[error("a cost of {cost} can never be granted by {limiter} (allowed: 1 to {max})")]
    CostOutOfRange {
        limiter: String,
        cost: u32,
        max: u32,
    },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl RateLimitError {
    /// For [`Self::Throttled`]: how long until a permit is expected.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Throttled → retry no sooner than the limiter says; Redis trouble → transient; an impossible
/// cost is a bug in the caller's arithmetic, which retrying cannot fix → permanent.
impl From<RateLimitError> for JobError {
    fn from(error: RateLimitError) -> Self {
        match &error {
            RateLimitError::Throttled { retry_after, .. } => {
                JobError::throttled(&error, *retry_after)
            }
            RateLimitError::CostOutOfRange { .. } => JobError::permanent(&error),
            RateLimitError::Redis(_) => JobError::transient(&error),
        }
    }
}
