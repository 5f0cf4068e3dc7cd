//! HTTP calls to CoinLore with the configured base URL and timeout.

use std::time::Duration;

use chrono::{DateTime, Utc};

use coinbeat_shared::ratelimit::Provider;

use crate::{
    boot::WorkerEnv,
    http::Answer,
    upstream::{Reading, Upstream},
};

/// CoinLore documents no limit and no `Retry-After`; a 429 holds every replica back this long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

use super::{CoinLoreError, Global, Tickers, parse_global, parse_ticker, parse_tickers};

/// Most ids one `/ticker/?id=` call names (its URL stays short).
pub const MAX_IDS_PER_TICKER: usize = 50;

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
        let body = self.get("/tickers/", &query).await?;
        parse_tickers(&body.text, body.sent_at).map_err(|message| CoinLoreError::Unavailable {
            status: body.status,
            message,
        })
    }

    /// `GET /ticker/?id=..`: the coins of CoinLore's `ids` (most [`MAX_IDS_PER_TICKER`] at
    /// once), wherever they rank now.
    pub async fn ticker(&self, ids: &[String]) -> Result<Tickers, CoinLoreError> {
        let query = [("id", ids.join(","))];
        let body = self.get("/ticker/", &query).await?;
        parse_ticker(&body.text, body.sent_at).map_err(|message| CoinLoreError::Unavailable {
            status: body.status,
            message,
        })
    }

    /// `GET /global/`: the market's totals.
    pub async fn global(&self) -> Result<Global, CoinLoreError> {
        let body = self.get("/global/", &[]).await?;
        parse_global(&body.text).map_err(|message| CoinLoreError::Unavailable {
            status: body.status,
            message,
        })
    }

    /// One request through the shared limiter and breaker; a success's body.
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Body, CoinLoreError> {
        let answer = self
            .upstream
            .get(&self.base_url, path, query, 1, read)
            .await?;
        let status = answer.status.as_u16();
        // CoinLore has one error class; a redirect still says why.
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
        Ok(Body {
            sent_at: answer.sent_at,
            status,
            text: answer.body,
        })
    }
}

/// A successful answer.
struct Body {
    sent_at: DateTime<Utc>,
    status: u16,
    text: String,
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
