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
}

impl JobError {
    pub fn permanent(reason: impl fmt::Display) -> Self {
        Self::Permanent(reason.to_string())
    }
    pub fn transient(reason: impl fmt::Display) -> Self {
        Self::Transient(reason.to_string())
    }
    pub fn reason(&self) -> &str {
        match self {
            Self::Permanent(r) | Self::Transient(r) => r,
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
        }
    }
}

impl std::error::Error for JobError {}
