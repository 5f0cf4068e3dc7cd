//! HTTP calls to CoinCap's REST API (v3) with the configured key, base URL and timeout: a
//! link of the price chain. The key goes in an `Authorization: Bearer` header.

use coinbeat_shared::{
    ratelimit::Provider,
    settings::{COINCAP_IDS_PER_CALL, Secret},
};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use crate::{
    boot::WorkerEnv,
    price_api::{self, PriceApiError},
    upstream::Upstream,
};

use super::assets::{Asset, parse_assets};

/// A CoinCap REST client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CoinCapRest {
    upstream: Upstream,
    base_url: String,
    /// Only to cut it out of quoted answers: it travels in a sensitive header.
    key: Secret,
}

impl CoinCapRest {
    /// The client `env`'s settings describe, behind CoinCap's shared limiter and breaker.
    /// Without a key there is no CoinCap v3 to ask: an error naming `COINCAP_API_KEY`.
    pub fn new(env: &WorkerEnv) -> Result<Self, PriceApiError> {
        let provider = Provider::CoinCap;
        let settings = &env.settings.providers.coincap;
        let key = price_api::key_of(provider, settings.api_key.as_ref())?;
        let config = |message: String| PriceApiError::Config { provider, message };
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
            .map_err(|_| config("the API key cannot be sent in a header".into()))?;
        bearer.set_sensitive(true);
        let headers = HeaderMap::from_iter([(AUTHORIZATION, bearer)]);
        let http =
            crate::http::client(settings.timeout_ms, headers).map_err(|e| config(e.to_string()))?;
        let upstream = Upstream::new(env, provider, http)
            .map_err(|e| config(format!("providers.coincap.rate_limit: {e}")))?;
        Ok(Self {
            upstream,
            base_url: settings.effective_base_url().to_owned(),
            key,
        })
    }

    /// Bitcoin's asset: whether CoinCap answers (the health worker's probe).
    pub async fn ping(&self) -> Result<(), PriceApiError> {
        self.assets(&["bitcoin".to_owned()]).await.map(drop)
    }

    /// `GET /assets?ids=…` for at most [`COINCAP_IDS_PER_CALL`] CoinCap asset ids. Unknown ids
    /// are absent.
    pub async fn assets(&self, ids: &[String]) -> Result<Vec<Asset>, PriceApiError> {
        debug_assert!(ids.len() as u64 <= COINCAP_IDS_PER_CALL);
        let query = [
            ("ids", ids.join(",")),
            ("limit", COINCAP_IDS_PER_CALL.to_string()),
        ];
        let answer = self
            .upstream
            .get(&self.base_url, "/assets", &query, 1, price_api::read)
            .await?;
        let status = answer.status.as_u16();
        let body = price_api::body_of(Provider::CoinCap, answer, &self.key)?;
        parse_assets(&body).map_err(|message| PriceApiError::Unavailable {
            provider: Provider::CoinCap,
            status,
            message,
        })
    }
}
