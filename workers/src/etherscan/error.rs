//! What can go wrong talking to Etherscan, classified for retries.
//!
//! Etherscan answers almost everything with HTTP 200 and an envelope; a failure is
//! `status: "0"` with the reason as a string `result`. The reason decides the class: "Max ...
//! rate limit reached" is a rate limit (wait and retry), a missing or invalid key is permanent
//! (retrying cannot help), anything else Etherscan refuses is permanent unless it says it timed
//! out.

use std::time::Duration;

use coinbeat_shared::queue::JobError;

/// The setting (and environment variable) that holds the key.
pub const KEY_SETTING: &str = "ETHERSCAN_API_KEY";

/// An Etherscan call failed.
#[derive(Debug, thiserror::Error)]
pub enum EtherscanError {
    /// No key configured: nothing was sent.
    #[error(
        "no Etherscan API key is configured: set {KEY_SETTING} (or \
         COINBEAT_PROVIDERS__ETHERSCAN__API_KEY, or providers.etherscan.api_key in the settings file)"
    )]
    MissingKey,
    /// "Max rate limit reached", "Max calls per sec rate limit reached (3/sec)", "Max daily
    /// rate limit reached...": slow down.
    #[error("etherscan rate limit reached: {message}")]
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    /// "Invalid API Key", "Missing/Invalid API Key", "Too many invalid api key attempts".
    #[error("etherscan refused the API key ({message}); check {KEY_SETTING}")]
    InvalidKey { message: String },
    /// Another refusal (unsupported chain, deprecated endpoint, bad parameter, a redirect, which
    /// is not followed). Retrying cannot help.
    #[error("etherscan rejected the request: {message}")]
    Rejected { message: String },
    /// 5xx, an HTML page from a proxy, a body that is not Etherscan's envelope, or Etherscan's
    /// own "Query Timeout".
    #[error("etherscan is unavailable (HTTP {status}): {message}")]
    Unavailable { status: u16, message: String },
    /// Connect failure, timeout, reset.
    #[error("cannot reach etherscan: {0}")]
    Transport(#[source] reqwest::Error),
    /// No permit in time, the breaker open, or an unreachable network after the retries.
    #[error(transparent)]
    Gate(#[from] crate::upstream::GateError),
}

/// How long a rate-limit refusal holds every caller back: until the next 00:00 UTC for the
/// daily limit ("Max daily rate limit reached. 100000 (100%) of 100000 day/limit"), otherwise
/// `per_second` (Etherscan sends no `Retry-After`).
pub fn throttle_for(message: &str, per_second: Duration) -> Duration {
    if !message.to_ascii_lowercase().contains("daily") {
        return per_second;
    }
    let now = chrono::Utc::now();
    let midnight = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    (midnight - now)
        .to_std()
        .unwrap_or(per_second)
        .max(per_second)
}

impl EtherscanError {
    /// Classifies the string `result` of a `status: "0"` envelope.
    pub fn from_refusal(message: &str, rate_limit_retry: Duration) -> Self {
        let lower = message.to_ascii_lowercase();
        let retry_after = throttle_for(message, rate_limit_retry);
        let message = message.to_owned();
        if lower.contains("rate limit reached") {
            Self::RateLimited {
                message,
                retry_after,
            }
        } else if lower.contains("invalid api key") || lower.contains("missing/invalid api") {
            Self::InvalidKey { message }
        } else if lower.contains("timeout") || lower.contains("timed out") {
            Self::Unavailable {
                status: 200,
                message,
            }
        } else {
            Self::Rejected { message }
        }
    }

    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unavailable { .. } | Self::Transport(_) => true,
            Self::Gate(gate) => !gate.is_permanent(),
            _ => false,
        }
    }
}

impl From<EtherscanError> for JobError {
    fn from(e: EtherscanError) -> Self {
        match e {
            EtherscanError::RateLimited { retry_after, .. } => JobError::throttled(&e, retry_after),
            EtherscanError::Gate(crate::upstream::GateError::Throttled { retry_after, .. }) => {
                JobError::throttled(&e, retry_after)
            }
            e if e.is_transient() => JobError::transient(e),
            e => JobError::permanent(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    const WAIT: Duration = Duration::from_secs(1);

    #[test]
    fn every_known_rate_limit_text_is_a_throttle() {
        for text in [
            "Max rate limit reached",
            "Max rate limit reached, please use API Key for higher rate limit",
            "Max calls per sec rate limit reached (3/sec)",
        ] {
            let job = JobError::from(EtherscanError::from_refusal(text, WAIT));
            assert_eq!(job.retry_after(), Some(WAIT), "{text}");
            assert!(!job.is_permanent());
        }
    }

    #[test]
    fn the_daily_limit_holds_back_until_the_next_utc_midnight() {
        let text = "Max daily rate limit reached. 100000 (100%) of 100000 day/limit";
        let job = JobError::from(EtherscanError::from_refusal(text, WAIT));
        assert!(!job.is_permanent());
        let wait = job.retry_after().unwrap();
        let now = chrono::Utc::now();
        let to_midnight = 86_400 - i64::from(now.num_seconds_from_midnight());
        let secs = wait.as_secs() as i64;
        assert!(
            (to_midnight - 2..=to_midnight).contains(&secs),
            "{wait:?} vs {to_midnight} s"
        );
    }

    #[test]
    fn key_and_request_refusals_are_permanent_and_timeouts_are_not() {
        for text in [
            "Invalid API Key",
            "Missing/Invalid API Key",
            "Too many invalid api key attempts, please try again later",
        ] {
            let e = EtherscanError::from_refusal(text, WAIT);
            assert!(matches!(e, EtherscanError::InvalidKey { .. }), "{text}");
            let job = JobError::from(e);
            assert!(job.is_permanent());
            assert!(job.reason().contains(KEY_SETTING), "{job}");
        }
        let e = EtherscanError::from_refusal(
            "Missing or unsupported chainid parameter (required for v2 api)",
            WAIT,
        );
        assert!(JobError::from(e).is_permanent());
        let e = EtherscanError::from_refusal(
            "Query Timeout occured. Please select a smaller result dataset",
            WAIT,
        );
        assert!(!JobError::from(e).is_permanent());
        let missing = JobError::from(EtherscanError::MissingKey);
        assert!(missing.is_permanent());
        assert!(missing.reason().contains("ETHERSCAN_API_KEY"), "{missing}");
    }
}
