//! What can go wrong talking to CoinGecko, classified for retries.

use std::time::Duration;

use coinbeat_shared::queue::JobError;

use crate::upstream::GateError;

/// A CoinGecko call failed.
#[derive(Debug, thiserror::Error)]
pub enum CoinGeckoError {
    /// HTTP 429: slow down. `retry_after` is CoinGecko's `retry-after` header, when present.
    #[error("coingecko rate limit exceeded (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// The settings cannot be turned into a request (e.g. a key a header cannot carry).
    #[error("coingecko is misconfigured: {0}")]
    Config(String),
    /// 401/403: the key is missing, wrong, or not allowed on this host. Retrying cannot help.
    #[error("coingecko refused the credentials (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    /// Another 4xx: the request itself is wrong; or a 3xx (redirects are not followed, see
    /// `http::REDIRECT_NOT_FOLLOWED`). Retrying cannot help.
    #[error("coingecko rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// 5xx, or a body that is not what CoinGecko sends (a proxy's HTML page, a cut-off body).
    #[error("coingecko is unavailable (HTTP {status}): {message}")]
    Unavailable { status: u16, message: String },
    /// Connect failure, timeout, reset.
    #[error("cannot reach coingecko: {0}")]
    Transport(#[source] reqwest::Error),
    /// No permit in time, the breaker open, or an unreachable network after the retries.
    #[error(transparent)]
    Gate(#[from] GateError),
}

impl CoinGeckoError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unauthorized { .. } | Self::Rejected { .. } | Self::Config(_) => false,
            Self::Gate(gate) => !gate.is_permanent(),
            _ => true,
        }
    }
}

/// When CoinGecko throttles without saying how long, wait this long at least.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

impl From<CoinGeckoError> for JobError {
    fn from(e: CoinGeckoError) -> Self {
        match e {
            CoinGeckoError::RateLimited { retry_after } => {
                JobError::throttled(&e, retry_after.unwrap_or(DEFAULT_RETRY_AFTER))
            }
            CoinGeckoError::Gate(GateError::Throttled { retry_after, .. }) => {
                JobError::throttled(&e, retry_after)
            }
            e if e.is_transient() => JobError::transient(e),
            e => JobError::permanent(e),
        }
    }
}
