//! HTTP calls to CoinLore with the configured base URL and timeout.

use std::time::Duration;

use coinbeat_shared::settings::CoinLoreSettings;

use super::{CoinLoreError, Tickers, parse_tickers};

/// A CoinLore client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CoinLore {
    http: reqwest::Client,
    base_url: String,
}

impl CoinLore {
    pub fn new(settings: &CoinLoreSettings) -> Result<Self, CoinLoreError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("coinbeat/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_millis(settings.timeout_ms.max(1)))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(CoinLoreError::Transport)?;
        Ok(Self {
            http,
            base_url: settings.effective_base_url().to_owned(),
        })
    }

    /// `GET /tickers/?start=..&limit=..`: coins ranked `start + 1` onwards, at most
    /// [`super::MAX_PER_PAGE`].
    pub async fn tickers(&self, start: u32, limit: u32) -> Result<Tickers, CoinLoreError> {
        let response = self
            .http
            .get(format!("{}/tickers/", self.base_url))
            .query(&[
                ("start", start.to_string()),
                ("limit", limit.clamp(1, super::MAX_PER_PAGE).to_string()),
            ])
            .send()
            .await
            .map_err(CoinLoreError::Transport)?;
        let status = response.status();
        let body = response.text().await.map_err(CoinLoreError::Transport)?;
        if !status.is_success() {
            return Err(CoinLoreError::Unavailable {
                status: status.as_u16(),
                message: body.chars().take(200).collect(),
            });
        }
        parse_tickers(&body).map_err(|message| CoinLoreError::Unavailable {
            status: status.as_u16(),
            message,
        })
    }
}
