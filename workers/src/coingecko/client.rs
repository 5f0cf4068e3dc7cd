//! HTTP calls to CoinGecko with the configured plan, key and timeout.

use std::collections::HashMap;

use coinbeat_shared::{ratelimit::Provider, settings::CoinGeckoPlan};
use reqwest::{StatusCode, header::HeaderMap};

use coinbeat_shared::{cache::MarketRow, domain::CoinId};

use crate::{
    boot::WorkerEnv,
    http::Answer,
    upstream::{Reading, Upstream},
};

use super::{
    ChartPoint, CoinDetails, CoinGeckoError, CoinsList, Global, SimplePrice, parse_coin,
    parse_coins_list, parse_global, parse_market_chart, parse_markets, parse_simple_prices,
};

/// A CoinGecko API v3 client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CoinGecko {
    upstream: Upstream,
    base_url: String,
    max_ids_per_request: usize,
}

impl CoinGecko {
    /// The client `env`'s settings describe, behind CoinGecko's shared limiter and breaker.
    pub fn new(env: &WorkerEnv) -> Result<Self, CoinGeckoError> {
        let settings = &env.settings.providers.coingecko;
        let mut headers = HeaderMap::new();
        // A blank key is no key: sending an empty header would only be refused.
        if let Some(key) = settings
            .api_key
            .as_ref()
            .filter(|k| !k.expose().trim().is_empty())
        {
            let name = match settings.plan {
                CoinGeckoPlan::Demo => "x-cg-demo-api-key",
                CoinGeckoPlan::Pro => "x-cg-pro-api-key",
            };
            let mut value = key
                .expose()
                .parse::<reqwest::header::HeaderValue>()
                .map_err(|_| {
                    CoinGeckoError::Config(
                        "the CoinGecko API key has characters a header cannot carry".into(),
                    )
                })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let http =
            crate::http::client(settings.timeout_ms, headers).map_err(CoinGeckoError::Transport)?;
        let upstream = Upstream::new(env, Provider::CoinGecko, http)
            .map_err(|e| CoinGeckoError::Config(format!("providers.coingecko.rate_limit: {e}")))?;
        Ok(Self {
            upstream,
            base_url: settings.effective_base_url().to_owned(),
            max_ids_per_request: settings.max_ids_per_request.max(1),
        })
    }

    /// Most ids one `/simple/price` request carries.
    pub fn max_ids_per_request(&self) -> usize {
        self.max_ids_per_request
    }

    /// `GET /ping`: whether CoinGecko answers (the health worker's probe).
    pub async fn ping(&self) -> Result<(), CoinGeckoError> {
        self.get("/ping", &[]).await.map(drop)
    }

    /// `GET /simple/price` in USD with market cap, 24 h volume and change, and last update, for
    /// at most [`Self::max_ids_per_request`] ids. Unknown ids are simply absent from the answer.
    pub async fn simple_prices(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, SimplePrice>, CoinGeckoError> {
        debug_assert!(ids.len() <= self.max_ids_per_request);
        let ids = ids.join(",");
        let body = self
            .get(
                "/simple/price",
                &[
                    ("ids", ids.as_str()),
                    ("vs_currencies", "usd"),
                    ("include_market_cap", "true"),
                    ("include_24hr_vol", "true"),
                    ("include_24hr_change", "true"),
                    ("include_last_updated_at", "true"),
                    ("precision", "full"),
                ],
            )
            .await?;
        parse_simple_prices(&body).map_err(|message| CoinGeckoError::Unavailable {
            status: 200,
            message,
        })
    }

    /// `GET /coins/markets` in USD, largest market cap first: page `page` (from 1) of
    /// `per_page` rows (at most [`super::MAX_PER_PAGE`]).
    pub async fn markets(
        &self,
        page: u32,
        per_page: u32,
    ) -> Result<Vec<MarketRow>, CoinGeckoError> {
        let per_page = per_page.clamp(1, super::MAX_PER_PAGE).to_string();
        let page = page.max(1).to_string();
        let body = self
            .get(
                "/coins/markets",
                &[
                    ("vs_currency", "usd"),
                    ("order", "market_cap_desc"),
                    ("per_page", per_page.as_str()),
                    ("page", page.as_str()),
                    ("sparkline", "false"),
                    ("precision", "full"),
                ],
            )
            .await?;
        parse_markets(&body).map_err(unreadable)
    }

    /// `GET /coins/list?include_platform=true`: every listed coin with its contracts, unranked
    /// (one call, a few MB for the whole market).
    pub async fn coins_list(&self) -> Result<CoinsList, CoinGeckoError> {
        let body = self
            .get("/coins/list", &[("include_platform", "true")])
            .await?;
        parse_coins_list(&body).map_err(unreadable)
    }

    /// `GET /global`: the whole market's figures.
    pub async fn global(&self) -> Result<Global, CoinGeckoError> {
        let body = self.get("/global", &[]).await?;
        parse_global(&body).map_err(unreadable)
    }

    /// `GET /coins/{id}` with market data only: the coin's supply figures. An unknown id is
    /// [`CoinGeckoError::Rejected`] with status 404 (`coin not found`).
    pub async fn coin(&self, id: &CoinId) -> Result<CoinDetails, CoinGeckoError> {
        let body = self
            .get(
                &format!("/coins/{id}"),
                &[
                    ("localization", "false"),
                    ("tickers", "false"),
                    ("market_data", "true"),
                    ("community_data", "false"),
                    ("developer_data", "false"),
                    ("sparkline", "false"),
                ],
            )
            .await?;
        parse_coin(&body).map_err(unreadable)
    }

    /// `GET /coins/{id}/market_chart/range` in USD: the coin's past points in `[from, to]`
    /// (hourly for a range of 2 to 90 days, as CoinGecko grains it). An unknown id is
    /// [`CoinGeckoError::Rejected`] with status 404.
    pub async fn market_chart_range(
        &self,
        id: &CoinId,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ChartPoint>, CoinGeckoError> {
        let (from, to) = (from.timestamp().to_string(), to.timestamp().to_string());
        let body = self
            .get(
                &format!("/coins/{id}/market_chart/range"),
                &[
                    ("vs_currency", "usd"),
                    ("from", &from),
                    ("to", &to),
                    ("precision", "full"),
                ],
            )
            .await?;
        parse_market_chart(&body).map_err(unreadable)
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<String, CoinGeckoError> {
        let Answer {
            status,
            retry_after,
            body,
            ..
        } = self
            .upstream
            .get(&self.base_url, path, query, 1, read)
            .await?;
        if status.is_success() {
            return Ok(body);
        }
        let message = error_message(&body);
        let status_code = status.as_u16();
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => CoinGeckoError::RateLimited { retry_after },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => CoinGeckoError::Unauthorized {
                status: status_code,
                message,
            },
            StatusCode::REQUEST_TIMEOUT => CoinGeckoError::Unavailable {
                status: status_code,
                message,
            },
            s if s.is_redirection() => CoinGeckoError::Rejected {
                status: status_code,
                message: crate::http::REDIRECT_NOT_FOLLOWED.to_owned(),
            },
            s if s.is_client_error() => CoinGeckoError::Rejected {
                status: status_code,
                message,
            },
            _ => CoinGeckoError::Unavailable {
                status: status_code,
                message,
            },
        })
    }
}

/// What an answer means for the shared limiter and breaker.
fn read(answer: &Answer) -> Reading {
    match answer.status {
        StatusCode::TOO_MANY_REQUESTS => Reading::Throttled(
            answer
                .retry_after
                .unwrap_or(super::error::DEFAULT_RETRY_AFTER),
        ),
        StatusCode::REQUEST_TIMEOUT => Reading::Failed,
        s if s.is_server_error() => Reading::Failed,
        _ => Reading::Answered,
    }
}

/// A 200 whose body is not what CoinGecko sends.
fn unreadable(message: String) -> CoinGeckoError {
    CoinGeckoError::Unavailable {
        status: 200,
        message,
    }
}

/// The message of one of CoinGecko's error bodies (`{"error":"..."}`,
/// `{"status":{"error_message":"..."}}`), or the start of whatever else came back.
fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let found = parsed.as_ref().and_then(|v| {
        v.get("error")
            .and_then(|e| e.as_str())
            .or_else(|| v.pointer("/status/error_message").and_then(|m| m.as_str()))
            .or_else(|| {
                v.pointer("/error/status/error_message")
                    .and_then(|m| m.as_str())
            })
    });
    match found {
        Some(message) => message.to_owned(),
        None => crate::http::excerpt(body),
    }
}
