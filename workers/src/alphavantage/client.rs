//! HTTP calls to Alpha Vantage with the configured key, base URL and timeout.

use std::time::Duration;

use coinbeat_shared::{domain::Currency, ratelimit::Provider, settings::Secret};

use crate::{
    boot::WorkerEnv,
    http::Answer,
    price_api::{self, PriceApiError},
    upstream::{Reading, Upstream},
};

use super::{ExchangeRate, Refusal, parse_exchange_rate};

/// Alpha Vantage sends no `Retry-After`; its free limit is a day's, so a throttle holds every
/// replica back an hour.
const THROTTLED_FOR: Duration = Duration::from_secs(3_600);

/// An Alpha Vantage client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AlphaVantage {
    upstream: Upstream,
    base_url: String,
    /// The `apikey` query parameter; a `Secret`, so the client's `Debug` never shows it.
    key: Secret,
}

impl AlphaVantage {
    /// The client `env`'s settings describe, behind Alpha Vantage's shared limiter and breaker.
    /// Without a key there is none: an error naming `ALPHAVANTAGE_API_KEY`.
    pub fn new(env: &WorkerEnv) -> Result<Self, PriceApiError> {
        let provider = Provider::AlphaVantage;
        let settings = &env.settings.providers.alphavantage;
        let key = price_api::key_of(provider, settings.api_key.as_ref())?;
        let config = |message: String| PriceApiError::Config { provider, message };
        let http = crate::http::client(settings.timeout_ms, Default::default())
            .map_err(|e| config(e.to_string()))?;
        let upstream = Upstream::new(env, provider, http)
            .map_err(|e| config(format!("providers.alphavantage.rate_limit: {e}")))?;
        Ok(Self {
            upstream,
            base_url: settings.effective_base_url().to_owned(),
            key,
        })
    }

    /// `CURRENCY_EXCHANGE_RATE` from `from` to `to`.
    pub async fn exchange_rate(
        &self,
        from: Currency,
        to: Currency,
    ) -> Result<ExchangeRate, PriceApiError> {
        let provider = Provider::AlphaVantage;
        let query = [
            ("function", "CURRENCY_EXCHANGE_RATE"),
            ("from_currency", from.as_str()),
            ("to_currency", to.as_str()),
            ("apikey", self.key.expose()),
        ];
        let answer = self
            .upstream
            .get(&self.base_url, "/query", &query, 1, read)
            .await?;
        let status = answer.status.as_u16();
        let body = price_api::body_of(provider, answer, &self.key)?;
        parse_exchange_rate(&body).map_err(|refusal| match refusal {
            Refusal::Throttled(_) => PriceApiError::RateLimited {
                provider,
                retry_after: THROTTLED_FOR,
            },
            Refusal::BadKey(message) => PriceApiError::Unauthorized {
                provider,
                status,
                message: price_api::redact(&message, &self.key),
            },
            Refusal::BadCall(message) => PriceApiError::Rejected {
                provider,
                status,
                message: price_api::redact(&message, &self.key),
            },
            Refusal::Unreadable(message) => PriceApiError::Unavailable {
                provider,
                status,
                message: price_api::redact(&message, &self.key),
            },
        })
    }
}

/// What an answer means for the shared limiter and breaker: a 200 whose body says the request
/// rate or the daily quota was passed is a throttle, whatever its status.
fn read(answer: &Answer) -> Reading {
    if answer.status.is_success()
        && matches!(
            parse_exchange_rate(&answer.body),
            Err(Refusal::Throttled(_))
        )
    {
        return Reading::Throttled(THROTTLED_FOR);
    }
    price_api::read(answer)
}
