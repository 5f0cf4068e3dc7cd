//! Why the scheduler refused to start. Once running it never fails: Redis errors are logged and
//! retried, so the only errors are start-up ones.

use std::fmt;

use coinbeat_shared::{redis_conn::ConnectError, submit::SubmitError};

/// Why the scheduler could not start.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// One or more enabled entries of the schedule table are invalid; every one is listed.
    #[error("invalid schedule: {}", list(.problems))]
    InvalidSchedule { problems: Vec<EntryProblem> },
    /// The Redis URL is malformed, or Redis evicts keys (`maxmemory-policy`). An unreachable
    /// Redis is not an error: the beat waits for it.
    #[error(transparent)]
    Redis(#[from] ConnectError),
    /// The table needs more calls than a provider's configured limit allows in some window
    /// (`plan.over_limits = "refuse"`, or `"stretch"` when stretching the tiers was not enough).
    #[error(
        "the schedule does not fit the providers' rate limits: {}; lengthen those entries' \
         intervals, configure the plan's real limits (providers.<name>.rate_limit), or set \
         plan.over_limits = \"stretch\" (the price tiers slow down) or \"warn\" (jobs wait \
         for the limiters); `coinbeat plan` shows every entry's calls",
        over.join("; ")
    )]
    OverLimits { over: Vec<String> },
    /// `ops.addr` could not be bound.
    #[error(transparent)]
    Ops(#[from] coinbeat_ops::OpsError),
}

/// One invalid schedule entry and what is wrong with it.
#[derive(Debug)]
pub struct EntryProblem {
    pub entry: String,
    pub error: EntryError,
}

impl fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {:?}: {}", self.entry, self.error)
    }
}

/// What is wrong with one schedule entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// The name becomes part of Redis keys, so it is restricted like a queue name.
    #[error("the entry name must be 1-64 characters of a-z, A-Z, 0-9, '-' or '_'")]
    BadName,
    #[error(
        "invalid cron expression {cron:?}: {reason}; expected 6 fields, seconds first, in UTC \
         (`sec min hour day-of-month month day-of-week`, optionally a 7th year field), \
         e.g. \"0 */5 * * * *\" for every five minutes"
    )]
    BadCron { cron: String, reason: String },
    #[error("cron expression {cron:?} never fires again")]
    NeverFires { cron: String },
    #[error(transparent)]
    BadArgs(SubmitError),
}

fn list(problems: &[EntryProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
