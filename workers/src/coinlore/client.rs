//! HTTP calls to CoinLore with the configured base URL and timeout.

use coinbeat_shared::settings::CoinLoreSettings;

use crate::http::Answer;

use super::{CoinLoreError, Tickers, parse_tickers};

/// A CoinLore client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CoinLore {
    http: reqwest::Client,
    base_url: String,
}

impl CoinLore {
    pub fn new(settings: &CoinLoreSettings) -> Result<Self, CoinLoreError> {
        let http = crate::http::client(settings.timeout_ms, Default::default())
            .map_err(CoinLoreError::Transport)?;
        Ok(Self {
            http,
            base_url: settings.effective_base_url().to_owned(),
        })
    }

    /// `GET /tickers/?start=..&limit=..`: coins ranked `start + 1` onwards, at most
    /// [`super::MAX_PER_PAGE`].
    pub async fn tickers(&self, start: u32, limit: u32) -> Result<Tickers, CoinLoreError> {
        let answer = Answer::fetch(
            self.http
                .get(format!("{}/tickers/", self.base_url))
                .query(&[
                    ("start", start.to_string()),
                    ("limit", limit.clamp(1, super::MAX_PER_PAGE).to_string()),
                ]),
        )
        .await
        .map_err(CoinLoreError::Transport)?;
        let status = answer.status.as_u16();
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
