//! What can go wrong talking to CoinGecko, classified for retries.

use std::time::Duration;

use coinbeat_shared::queue::JobError;

/// A CoinGecko call failed.
#[derive(Debug, thiserror::Error)]
pub enum CoinGeckoError {
    /// HTTP 429: slow down. `retry_after` is CoinGecko's `retry-after` header, when present.
    #[error("coingecko rate limit exceeded (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// 401/403: the key is missing, wrong, or not allowed on this host. Retrying cannot help.
    #[error("coingecko refused the credentials (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    /// Another 4xx: the request itself is wrong. Retrying cannot help.
    #[error("coingecko rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// 5xx, or a body that is not what CoinGecko sends (a proxy's HTML page, a cut-off body).
    #[error("coingecko is unavailable (HTTP {status}): {message}")]
    Unavailable { status: u16, message: String },
    /// Connect failure, timeout, reset.
    #[error("cannot reach coingecko: {0}")]
    Transport(#[source] reqwest::Error),
}

impl CoinGeckoError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Unauthorized { .. } | Self::Rejected { .. })
    }
}

impl From<CoinGeckoError> for JobError {
    fn from(e: CoinGeckoError) -> Self {
        if e.is_transient() {
            JobError::transient(e)
        } else {
            JobError::permanent(e)
        }
    }
}
