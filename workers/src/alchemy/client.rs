//! HTTP calls to Alchemy's Prices API with the configured key, base URL and timeout.

use coinbeat_shared::{
    ratelimit::Provider,
    settings::{ALCHEMY_SYMBOLS_PER_CALL, Secret},
};

use crate::{
    boot::WorkerEnv,
    price_api::{self, PriceApiError},
    upstream::Upstream,
};

use super::{AlchemyPrice, parse_by_symbol};

/// An Alchemy Prices API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Alchemy {
    upstream: Upstream,
    base_url: String,
    /// A path segment of every request (`{base_url}/{key}/tokens/…`), as Alchemy's clients
    /// send it; a `Secret`, so the client's `Debug` never shows it.
    key: Secret,
}

impl Alchemy {
    /// The client `env`'s settings describe, behind Alchemy's shared limiter and breaker.
    /// Without a key there is no Alchemy to ask: an error naming `ALCHEMY_API_KEY`.
    pub fn new(env: &WorkerEnv) -> Result<Self, PriceApiError> {
        let provider = Provider::Alchemy;
        let settings = &env.settings.providers.alchemy;
        let key = price_api::key_of(provider, settings.api_key.as_ref())?;
        let config = |message: String| PriceApiError::Config { provider, message };
        let http = crate::http::client(settings.timeout_ms, Default::default())
            .map_err(|e| config(e.to_string()))?;
        let upstream = Upstream::new(env, provider, http)
            .map_err(|e| config(format!("providers.alchemy.rate_limit: {e}")))?;
        Ok(Self {
            upstream,
            base_url: settings.effective_base_url().to_owned(),
            key,
        })
    }

    /// ETH's price: whether Alchemy answers (the health worker's probe).
    pub async fn ping(&self) -> Result<(), PriceApiError> {
        self.by_symbol(&["ETH".to_owned()]).await.map(drop)
    }

    /// `GET tokens/by-symbol` for at most [`ALCHEMY_SYMBOLS_PER_CALL`] symbols (repeated
    /// `symbols` parameters, as Alchemy reads them). Unknown symbols are absent.
    pub async fn by_symbol(&self, symbols: &[String]) -> Result<Vec<AlchemyPrice>, PriceApiError> {
        debug_assert!(symbols.len() as u64 <= ALCHEMY_SYMBOLS_PER_CALL);
        let query: Vec<(&str, &str)> = symbols.iter().map(|s| ("symbols", s.as_str())).collect();
        let path = format!("/{}/tokens/by-symbol", self.key.expose());
        let answer = self
            .upstream
            .get(&self.base_url, &path, &query, 1, price_api::read)
            .await?;
        let status = answer.status.as_u16();
        let body = price_api::body_of(Provider::Alchemy, answer, &self.key)?;
        parse_by_symbol(&body).map_err(|message| PriceApiError::Unavailable {
            provider: Provider::Alchemy,
            status,
            message,
        })
    }
}
