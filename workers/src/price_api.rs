//! What can go wrong asking a keyed market-data API (Alchemy's and CoinCap's REST for prices,
//! Alpha Vantage for exchange rates), and how its answers read: they speak different formats
//! but fail alike (a refused key, a refused call, slow down, down), so they share one error and
//! one reading of HTTP statuses (Alpha Vantage adds its own reading of 200 bodies).

use std::time::Duration;

use coinbeat_shared::{queue::JobError, ratelimit::Provider, settings::Secret};

use crate::{
    http::Answer,
    upstream::{GateError, Reading},
};

/// Neither says how long to wait after a 429 (a `Retry-After` is honoured when sent): every
/// replica waits this long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A price API call failed.
#[derive(Debug, thiserror::Error)]
pub enum PriceApiError {
    /// No key, a key a request cannot carry, or a rate limit that does not parse.
    #[error("{provider} is misconfigured: {message}")]
    Config { provider: Provider, message: String },
    /// 401/403: the key is wrong or not allowed. Retrying cannot help.
    #[error("{provider} refused the key (HTTP {status}): {message}")]
    Unauthorized {
        provider: Provider,
        status: u16,
        message: String,
    },
    /// Another 4xx, or a 3xx (redirects are not followed). Retrying cannot help.
    #[error("{provider} rejected the request (HTTP {status}): {message}")]
    Rejected {
        provider: Provider,
        status: u16,
        message: String,
    },
    /// HTTP 429 still, after the gate's waits.
    #[error("{provider} rate limit exceeded (retry after {retry_after:?})")]
    RateLimited {
        provider: Provider,
        retry_after: Duration,
    },
    /// 5xx, or a body that is not what the provider sends.
    #[error("{provider} is unavailable (HTTP {status}): {message}")]
    Unavailable {
        provider: Provider,
        status: u16,
        message: String,
    },
    /// No permit in time, the breaker open, or an unreachable network after the retries.
    #[error(transparent)]
    Gate(#[from] GateError),
}

impl PriceApiError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Config { .. } | Self::Unauthorized { .. } | Self::Rejected { .. } => false,
            Self::Gate(gate) => !gate.is_permanent(),
            Self::RateLimited { .. } | Self::Unavailable { .. } => true,
        }
    }
}

impl From<PriceApiError> for JobError {
    fn from(e: PriceApiError) -> Self {
        match e {
            PriceApiError::RateLimited { retry_after, .. }
            | PriceApiError::Gate(GateError::Throttled { retry_after, .. }) => {
                JobError::throttled(&e, retry_after)
            }
            e if e.is_transient() => JobError::transient(e),
            e => JobError::permanent(e),
        }
    }
}

/// What an answer means for the shared limiter and breaker.
pub fn read(answer: &Answer) -> Reading {
    match answer.status.as_u16() {
        429 => Reading::Throttled(answer.retry_after.unwrap_or(DEFAULT_RETRY_AFTER)),
        408 => Reading::Failed,
        s if s >= 500 => Reading::Failed,
        _ => Reading::Answered,
    }
}

/// A successful answer's body, or the error its status says. `key` is cut out of any message
/// quoted from the answer (some upstreams quote the key they were sent).
pub fn body_of(provider: Provider, answer: Answer, key: &Secret) -> Result<String, PriceApiError> {
    let status = answer.status.as_u16();
    if answer.status.is_success() {
        return Ok(answer.body);
    }
    let message = if answer.status.is_redirection() {
        crate::http::REDIRECT_NOT_FOLLOWED.to_owned()
    } else {
        redact(&answer.excerpt(), key)
    };
    Err(match status {
        401 | 403 => PriceApiError::Unauthorized {
            provider,
            status,
            message,
        },
        429 => PriceApiError::RateLimited {
            provider,
            retry_after: answer.retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        },
        s if s >= 500 || s == 408 => PriceApiError::Unavailable {
            provider,
            status,
            message,
        },
        _ => PriceApiError::Rejected {
            provider,
            status,
            message,
        },
    })
}

/// `text` with every occurrence of `key` replaced by `***`.
pub fn redact(text: &str, key: &Secret) -> String {
    let key = key.expose();
    if key.is_empty() {
        return text.to_owned();
    }
    text.replace(key, "***")
}

/// The configured key, when it is set, not blank and made of characters a URL path segment or
/// a header carries as they are (letters, digits, `-`, `_`, `.`).
pub fn key_of(provider: Provider, key: Option<&Secret>) -> Result<Secret, PriceApiError> {
    let config = |message: String| PriceApiError::Config { provider, message };
    let key = key
        .map(|k| k.expose().trim())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            config(format!(
                "no API key: set {}_API_KEY (or providers.{provider}.api_key)",
                provider.as_str().to_uppercase()
            ))
        })?;
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || key.chars().all(|c| c == '.')
    {
        return Err(config(
            "the API key must be letters, digits, '-', '_' and '.' (not dots alone)".into(),
        ));
    }
    Ok(Secret::new(key))
}
