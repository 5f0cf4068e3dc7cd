//! How a job handler reports failure: retry it, or never retry it.

use std::fmt;

/// What a handler returns: an optional JSON result (kept in the task record), or an error.
pub type JobResult = Result<Option<serde_json::Value>, JobError>;

/// A failed job, classified by whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Bad input, an upstream 4xx, a missing API key: the task goes to the dead set at once
    /// with this reason.
    Permanent(String),
    /// Network trouble, an upstream 5xx: retried with exponential backoff and jitter up to the
    /// queue's `max_retries`, then dead.
    Transient(String),
    /// Like `Transient`, but the next attempt waits at least `retry_after` (an upstream's
    /// `retry-after` on a 429), so a throttled job is not burnt through its retries in seconds.
    Throttled {
        reason: String,
        retry_after: std::time::Duration,
    },
}

impl JobError {
    pub fn permanent(reason: impl fmt::Display) -> Self {
        Self::Permanent(reason.to_string())
    }
    pub fn transient(reason: impl fmt::Display) -> Self {
        Self::Transient(reason.to_string())
    }
    pub fn throttled(reason: impl fmt::Display, retry_after: std::time::Duration) -> Self {
        Self::Throttled {
            reason: reason.to_string(),
            retry_after,
        }
    }
    pub fn reason(&self) -> &str {
        match self {
            Self::Permanent(r) | Self::Transient(r) | Self::Throttled { reason: r, .. } => r,
        }
    }
    /// The least delay before the next attempt, beyond the queue's backoff.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Permanent(r) => write!(f, "permanent: {r}"),
            Self::Transient(r) => write!(f, "transient: {r}"),
            Self::Throttled {
                reason,
                retry_after,
            } => write!(f, "throttled (retry after {retry_after:?}): {reason}"),
        }
    }
}

impl std::error::Error for JobError {}
