//! HTTP calls to Binance's public market-data endpoints.

use std::time::Duration;

use chrono::{DateTime, Utc};
use coinbeat_shared::{plan::ticker_24h_weight, ratelimit::Provider};
use reqwest::StatusCode;

use super::{BinanceError, Ticker24h, ticker::parse_tickers};
use crate::{
    boot::WorkerEnv,
    http::{Answer, excerpt},
    upstream::{Reading, Upstream},
};

/// When Binance throttles (429) or bans (418) without a `Retry-After`, every replica waits this
/// long at least.
pub(super) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A Binance spot market-data client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Binance {
    upstream: Upstream,
    base_url: String,
}

impl Binance {
    /// The client `env`'s settings describe, behind Binance's shared limiter (in request
    /// weight) and breaker.
    pub fn new(env: &WorkerEnv) -> Result<Self, BinanceError> {
        let settings = &env.settings.providers.binance;
        let http = crate::http::client(settings.timeout_ms, Default::default())
            .map_err(BinanceError::Transport)?;
        let upstream = Upstream::new(env, Provider::Binance, http).map_err(|e| {
            BinanceError::Gate(crate::upstream::GateError::Config {
                provider: Provider::Binance,
                message: format!("providers.binance.rate_limit: {e}"),
            })
        })?;
        Ok(Self {
            upstream,
            base_url: settings.effective_base_url().to_owned(),
        })
    }

    /// `GET /api/v3/ping`: whether Binance answers (the health worker's probe).
    pub async fn ping(&self) -> Result<(), BinanceError> {
        self.get("/api/v3/ping", &[], 1).await.map(drop)
    }

    /// `GET /api/v3/ticker/24hr` for `pairs`. Its `lastPrice` is the last trade, the same figure
    /// `/ticker/price` gives, so one call yields price, change and volume. Binance fails the
    /// whole request when one pair does not exist (-1121); pairs are then asked one by one and
    /// the unknown ones left out.
    pub async fn tickers_24h(&self, pairs: &[String]) -> Result<Vec<Ticker24h>, BinanceError> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::to_string(pairs).expect("strings serialize");
        let weight = ticker_24h_weight(pairs.len());
        match self
            .get("/api/v3/ticker/24hr", &[("symbols", &list)], weight)
            .await
        {
            // The one pair asked for does not exist: left out, like any unknown pair.
            Err(e) if e.is_invalid_symbol() && pairs.len() == 1 => return Ok(Vec::new()),
            Err(e) if e.is_invalid_symbol() => {}
            other => return other.and_then(|body| parse(&body)),
        }
        let mut rows = Vec::with_capacity(pairs.len());
        for pair in pairs {
            let weight = ticker_24h_weight(1);
            match self
                .get("/api/v3/ticker/24hr", &[("symbol", pair)], weight)
                .await
            {
                Ok(body) => rows.extend(parse(&body)?),
                Err(e) if e.is_invalid_symbol() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(rows)
    }

    /// `GET /api/v3/ticker/24hr` without `symbols`: every pair Binance lists, in one call of
    /// weight 80 (a price tier's whole Binance side), and when the request went out (after its
    /// permit).
    pub async fn all_tickers_24h(&self) -> Result<(Vec<Ticker24h>, DateTime<Utc>), BinanceError> {
        let (body, sent_at) = self
            .get_sent(
                "/api/v3/ticker/24hr",
                &[],
                coinbeat_shared::plan::ALL_TICKERS_WEIGHT,
            )
            .await?;
        Ok((parse(&body)?, sent_at))
    }

    /// One request of `weight` (Binance's request weight, what its limit counts): the body.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        weight: u32,
    ) -> Result<String, BinanceError> {
        self.get_sent(path, query, weight)
            .await
            .map(|(body, _)| body)
    }

    /// One request of `weight`: the body, and when the request went out.
    async fn get_sent(
        &self,
        path: &str,
        query: &[(&str, &str)],
        weight: u32,
    ) -> Result<(String, DateTime<Utc>), BinanceError> {
        let Answer {
            sent_at,
            status,
            retry_after,
            body,
        } = self
            .upstream
            .get(&self.base_url, path, query, weight, read)
            .await?;
        if status.is_success() {
            return Ok((body, sent_at));
        }
        let code = status.as_u16();
        if status == StatusCode::TOO_MANY_REQUESTS || code == 418 {
            return Err(BinanceError::RateLimited {
                status: code,
                retry_after,
            });
        }
        if status.is_redirection() {
            return Err(BinanceError::Rejected {
                status: code,
                code: 0,
                message: crate::http::REDIRECT_NOT_FOLLOWED.to_owned(),
            });
        }
        if status.is_client_error() {
            let parsed: Option<serde_json::Value> = serde_json::from_str(&body).ok();
            return Err(BinanceError::Rejected {
                status: code,
                code: parsed
                    .as_ref()
                    .and_then(|v| v.get("code")?.as_i64())
                    .unwrap_or_default(),
                message: parsed
                    .as_ref()
                    .and_then(|v| v.get("msg")?.as_str().map(str::to_owned))
                    .unwrap_or_else(|| excerpt(&body)),
            });
        }
        Err(BinanceError::Unavailable {
            status: code,
            message: excerpt(&body),
        })
    }
}

/// What an answer means for the shared limiter and breaker: 429 and 418 push every replica
/// back for Binance's `Retry-After`.
fn read(answer: &Answer) -> Reading {
    match answer.status.as_u16() {
        429 | 418 => Reading::Throttled(answer.retry_after.unwrap_or(DEFAULT_RETRY_AFTER)),
        408 => Reading::Failed,
        s if s >= 500 => Reading::Failed,
        _ => Reading::Answered,
    }
}

fn parse(body: &str) -> Result<Vec<Ticker24h>, BinanceError> {
    parse_tickers(body).map_err(|message| BinanceError::Unavailable {
        status: 200,
        message,
    })
}
