//! What can go wrong talking to CoinLore.

/// A CoinLore call failed.
#[derive(Debug, thiserror::Error)]
pub enum CoinLoreError {
    /// A non-2xx answer, or a body that is not what CoinLore sends.
    #[error("coinlore is unavailable (HTTP {status}): {message}")]
    Unavailable { status: u16, message: String },
    /// Connect failure, timeout, reset; or a client that cannot be built.
    #[error("cannot reach coinlore: {0}")]
    Transport(#[source] reqwest::Error),
    /// No permit in time, the breaker open, or an unreachable network after the retries.
    #[error(transparent)]
    Gate(#[from] crate::upstream::GateError),
}
