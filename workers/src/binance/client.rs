//! HTTP calls to Binance's public market-data endpoints.

use coinbeat_shared::settings::BinanceSettings;
use reqwest::StatusCode;

use super::{BinanceError, Ticker24h, ticker::parse_tickers};
use crate::http::{Answer, excerpt};

/// A Binance spot market-data client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Binance {
    http: reqwest::Client,
    base_url: String,
}

impl Binance {
    pub fn new(settings: &BinanceSettings) -> Result<Self, BinanceError> {
        let http = crate::http::client(settings.timeout_ms, Default::default())
            .map_err(BinanceError::Transport)?;
        Ok(Self {
            http,
            base_url: settings.effective_base_url().to_owned(),
        })
    }

    /// `GET /api/v3/ping`: whether Binance answers (the health worker's probe).
    pub async fn ping(&self) -> Result<(), BinanceError> {
        self.get("/api/v3/ping", &[]).await.map(drop)
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
        match self.get("/api/v3/ticker/24hr", &[("symbols", &list)]).await {
            Err(e) if e.is_invalid_symbol() && pairs.len() > 1 => {}
            other => return other.and_then(|body| parse(&body)),
        }
        let mut rows = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match self.get("/api/v3/ticker/24hr", &[("symbol", pair)]).await {
                Ok(body) => rows.extend(parse(&body)?),
                Err(e) if e.is_invalid_symbol() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(rows)
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<String, BinanceError> {
        let Answer {
            status,
            retry_after,
            body,
        } = Answer::fetch(
            self.http
                .get(format!("{}{path}", self.base_url))
                .query(query),
        )
        .await
        .map_err(BinanceError::Transport)?;
        if status.is_success() {
            return Ok(body);
        }
        let code = status.as_u16();
        if status == StatusCode::TOO_MANY_REQUESTS || code == 418 {
            return Err(BinanceError::RateLimited {
                status: code,
                retry_after,
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

fn parse(body: &str) -> Result<Vec<Ticker24h>, BinanceError> {
    parse_tickers(body).map_err(|message| BinanceError::Unavailable {
        status: 200,
        message,
    })
}
