//! HTTP calls to CoinLore with the configured base URL and timeout.

use std::time::Duration;

use coinbeat_shared::ratelimit::Provider;

use crate::{
    boot::WorkerEnv,
    http::Answer,
    upstream::{Reading, Upstream},
};

/// CoinLore documents no limit and no `Retry-After`; a 429 holds every replica back this long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

use super::{CoinLoreError, Tickers, parse_tickers};

/// A CoinLore client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CoinLore {
    upstream: Upstream,
    base_url: String,
}

impl CoinLore {
    /// The client `env`'s settings describe, behind CoinLore's shared limiter and breaker.
    pub fn new(env: &WorkerEnv) -> Result<Self, CoinLoreError> {
        let settings = &env.settings.providers.coinlore;
        let http = crate::http::client(settings.timeout_ms, Default::default())
            .map_err(CoinLoreError::Transport)?;
        let upstream = Upstream::new(env, Provider::CoinLore, http).map_err(|e| {
            CoinLoreError::Gate(crate::upstream::GateError::Config {
                provider: Provider::CoinLore,
                message: format!("providers.coinlore.rate_limit: {e}"),
            })
        })?;
        Ok(Self {
            upstream,
            base_url: settings.effective_base_url().to_owned(),
        })
    }

    /// One ticker: whether CoinLore answers (the health worker's probe).
    pub async fn ping(&self) -> Result<(), CoinLoreError> {
        self.tickers(0, 1).await.map(drop)
    }

    /// `GET /tickers/?start=..&limit=..`: coins ranked `start + 1` onwards, at most
    /// [`super::MAX_PER_PAGE`].
    pub async fn tickers(&self, start: u32, limit: u32) -> Result<Tickers, CoinLoreError> {
        let query = [
            ("start", start.to_string()),
            ("limit", limit.clamp(1, super::MAX_PER_PAGE).to_string()),
        ];
        let answer = self
            .upstream
            .fetch(
                |http| {
                    http.get(format!("{}/tickers/", self.base_url))
                        .query(&query)
                },
                1,
                read,
            )
            .await?;
        let status = answer.status.as_u16();
        // CoinLore is only a fallback, with one error class; a redirect still says why.
        if answer.status.is_redirection() {
            return Err(CoinLoreError::Unavailable {
                status,
                message: crate::http::REDIRECT_NOT_FOLLOWED.to_owned(),
            });
        }
        if !answer.status.is_success() {
            return Err(CoinLoreError::Unavailable {
                status,
                message: answer.excerpt(),
            });
        }
        parse_tickers(&answer.body)
            .map_err(|message| CoinLoreError::Unavailable { status, message })
    }
}

/// What an answer means for the shared limiter and breaker.
fn read(answer: &Answer) -> Reading {
    match answer.status.as_u16() {
        429 => Reading::Throttled(answer.retry_after.unwrap_or(DEFAULT_RETRY_AFTER)),
        408 => Reading::Failed,
        s if s >= 500 => Reading::Failed,
        _ => Reading::Answered,
    }
}
