//! What can go wrong talking to Binance, classified for retries.

use std::time::Duration;

use super::client::DEFAULT_RETRY_AFTER;

/// A Binance call failed.
#[derive(Debug, thiserror::Error)]
pub enum BinanceError {
    /// 429 (slow down) or 418 (banned for ignoring 429s), with Binance's `Retry-After`.
    #[error("binance rate limit exceeded (HTTP {status}, retry after {retry_after:?})")]
    RateLimited {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// A 4xx with Binance's `{"code":..,"msg":..}` body, e.g. -1121 "Invalid symbol."; or a 3xx
    /// (code 0: redirects are not followed).
    #[error("binance rejected the request (HTTP {status}, code {code}): {message}")]
    Rejected {
        status: u16,
        code: i64,
        message: String,
    },
    /// 5xx, or a body that is not what Binance sends.
    #[error("binance is unavailable (HTTP {status}): {message}")]
    Unavailable { status: u16, message: String },
    #[error("cannot reach binance: {0}")]
    Transport(#[source] reqwest::Error),
    /// No permit in time, the breaker open, or an unreachable network after the retries.
    #[error(transparent)]
    Gate(#[from] crate::upstream::GateError),
}

impl BinanceError {
    /// Binance's "Invalid symbol." code: one unknown pair fails a whole multi-symbol request.
    pub fn is_invalid_symbol(&self) -> bool {
        matches!(self, Self::Rejected { code: -1121, .. })
    }
}

impl From<BinanceError> for coinbeat_shared::queue::JobError {
    fn from(e: BinanceError) -> Self {
        use coinbeat_shared::queue::JobError;
        match &e {
            BinanceError::RateLimited { retry_after, .. } => {
                let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
                JobError::throttled(&e, wait)
            }
            BinanceError::Gate(crate::upstream::GateError::Throttled { retry_after, .. }) => {
                let wait = *retry_after;
                JobError::throttled(&e, wait)
            }
            BinanceError::Gate(gate) if gate.is_permanent() => JobError::permanent(&e),
            BinanceError::Rejected { .. } => JobError::permanent(&e),
            _ => JobError::transient(&e),
        }
    }
}
