//! The one way to an upstream. Every physical request, retries included, first takes a permit
//! from the provider's rate limiter and passes its circuit breaker, both shared by every replica
//! through Redis. Then:
//!
//! - an answer the provider module reads as a throttle (a 429 with `Retry-After`, Binance's
//!   418, Etherscan's "Max rate limit reached" body) pushes the shared limiter back for that
//!   long, for every replica, and the request is tried again once a permit comes;
//! - a transient failure (network error, timeout, 5xx) counts against the breaker and is retried
//!   after an exponential backoff with full jitter, up to `upstream.retries` times;
//! - an open breaker answers at once with [`GateError::CircuitOpen`], so a worker with a
//!   fallback provider goes to it without waiting;
//! - a body longer than `upstream.max_body_bytes` ends the call with [`GateError::TooLarge`],
//!   permanent and not retried.
//!
//! What an answer means stays with each provider module: it passes a reader that says
//! [`Reading::Answered`], [`Reading::Throttled`] or [`Reading::Failed`], and gets the final
//! [`Answer`] back to classify as before.

use std::time::Duration;

use coinbeat_shared::{
    breaker::{Admission, Breaker, Transition},
    queue::stoppable,
    ratelimit::{Limiter, Provider, RateLimitError, RateSpecError},
    settings::UpstreamSettings,
};
use rand::Rng;

use crate::{
    boot::WorkerEnv,
    http::{Answer, FetchError},
};

/// Throttle answers one call goes through before it hands the last one back to its caller.
const MAX_THROTTLED_TRIES: u32 = 3;

/// What an answer means for the gate; the provider module decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The upstream answered (success, or an error that is about the request, like a 404).
    Answered,
    /// The upstream asks us to slow down for this long.
    Throttled(Duration),
    /// A 5xx or a body no healthy upstream sends: counts against the breaker and is retried.
    Failed,
}

/// Why a call did not get an answer to read.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// No permit within `upstream.max_permit_wait_ms` (an upstream push-back included).
    #[error("{provider} rate limit: no permit in time; retry after {retry_after:?}")]
    Throttled {
        provider: Provider,
        retry_after: Duration,
    },
    /// The provider's breaker is open: it failed repeatedly and is given time to recover.
    #[error("{provider}: circuit open after repeated failures; next probe in {next_probe_in:?}")]
    CircuitOpen {
        provider: Provider,
        next_probe_in: Duration,
    },
    /// Connect failure, timeout, reset, after the retries.
    #[error("cannot reach {provider}: {source}")]
    Transport {
        provider: Provider,
        #[source]
        source: reqwest::Error,
    },
    /// The answer's body was longer than `upstream.max_body_bytes`. The same request would get
    /// the same body, so it is not retried and is permanent for the job: either the cap is too
    /// small for this answer or the upstream sends what it should not.
    #[error("{provider}: the answer is larger than upstream.max_body_bytes ({cap} bytes)")]
    TooLarge { provider: Provider, cap: usize },
    /// The limiter or the breaker could not reach Redis.
    #[error("{provider}: rate limiter or breaker unavailable: {source}")]
    Redis {
        provider: Provider,
        #[source]
        source: redis::RedisError,
    },
    /// A request weight the configured limit can never grant.
    #[error("{provider}: {message}")]
    Config { provider: Provider, message: String },
}

impl GateError {
    /// Whether no later attempt can succeed: a configuration a limit can never grant, or an
    /// answer over the body cap.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Config { .. } | Self::TooLarge { .. })
    }

    /// How long to wait before trying again, when the gate knows.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } => Some(*retry_after),
            Self::CircuitOpen { next_probe_in, .. } => Some(*next_probe_in),
            _ => None,
        }
    }
}

/// One provider's gate: its HTTP client, limiter and breaker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Upstream {
    provider: Provider,
    http: reqwest::Client,
    limiter: Limiter,
    breaker: Breaker,
    settings: UpstreamSettings,
}

impl Upstream {
    /// The gate of `provider` as configured in `env`'s settings.
    pub fn new(
        env: &WorkerEnv,
        provider: Provider,
        http: reqwest::Client,
    ) -> Result<Self, RateSpecError> {
        let settings = &env.settings;
        let limiter = Limiter::new(
            env.conn.clone(),
            &env.keys,
            settings.providers.limiter_id(provider),
            settings.providers.rate_spec(provider)?,
        );
        let breaker = Breaker::new(env.conn.clone(), &env.keys, provider, &settings.upstream);
        Ok(Self {
            provider,
            http,
            limiter,
            breaker,
            settings: settings.upstream.clone(),
        })
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// [`Self::fetch`] of `GET {base_url}{path}` with `query`.
    pub async fn get<Q: serde::Serialize + ?Sized>(
        &self,
        base_url: &str,
        path: &str,
        query: &Q,
        cost: u32,
        read: impl Fn(&Answer) -> Reading,
    ) -> Result<Answer, GateError> {
        let url = format!("{base_url}{path}");
        self.fetch(|http| http.get(&url).query(query), cost, read)
            .await
    }

    /// Sends the request `build` makes (once per try), weighing `cost` permits, and returns the
    /// last answer; `read` says what each answer means.
    pub async fn fetch(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        cost: u32,
        read: impl Fn(&Answer) -> Reading,
    ) -> Result<Answer, GateError> {
        let mut failures = 0;
        let mut throttles = 0;
        loop {
            let probe = match self.breaker.admit().await.map_err(|e| self.redis(e))? {
                Admission::Go => false,
                Admission::Probe => true,
                Admission::Open { next_probe_in } => {
                    return Err(GateError::CircuitOpen {
                        provider: self.provider,
                        next_probe_in,
                    });
                }
            };
            self.permit(cost).await?;
            // From the permit to the answer's recording, no shutdown cuts this call.
            let calling = stoppable::busy();
            let outcome = match Answer::fetch(build(&self.http), self.settings.max_body_bytes).await
            {
                Ok(answer) => Ok(answer),
                Err(FetchError::Transport(e)) => Err(e),
                Err(FetchError::TooLarge { cap }) => {
                    // The upstream answered, so it is up; the answer is what is wrong.
                    self.record(true).await?;
                    return Err(GateError::TooLarge {
                        provider: self.provider,
                        cap,
                    });
                }
            };
            let reading = match &outcome {
                Ok(answer) => read(answer),
                Err(_) => Reading::Failed,
            };
            self.record(reading != Reading::Failed).await?;
            match reading {
                Reading::Answered => return outcome.map_err(|e| self.transport(e)),
                Reading::Throttled(for_) => {
                    throttles += 1;
                    tracing::warn!(provider = %self.provider, ?for_, "upstream throttled us; every replica waits");
                    self.limiter
                        .push_back(for_)
                        .await
                        .map_err(|e| self.limit_error(e))?;
                    if throttles >= MAX_THROTTLED_TRIES {
                        return outcome.map_err(|e| self.transport(e));
                    }
                }
                Reading::Failed => {
                    failures += 1;
                    // A probe answers one question; the breaker's interval sets the pace.
                    if probe || failures > self.settings.retries {
                        return outcome.map_err(|e| self.transport(e));
                    }
                    let ceiling = self.settings.backoff_ceiling(failures);
                    let wait = rand::rng().random_range(Duration::ZERO..=ceiling);
                    tracing::debug!(provider = %self.provider, ?wait, failures, "transient failure; retrying");
                    drop(calling);
                    stoppable::sleep(wait).await;
                }
            }
        }
    }

    async fn permit(&self, cost: u32) -> Result<(), GateError> {
        self.limiter
            .acquire(cost, self.settings.max_permit_wait())
            .await
            .map(drop)
            .map_err(|e| self.limit_error(e))
    }

    async fn record(&self, up: bool) -> Result<(), GateError> {
        match self.breaker.record(up).await.map_err(|e| self.redis(e))? {
            Some(Transition::Opened) => {
                tracing::warn!(provider = %self.provider, "circuit opened: repeated failures")
            }
            Some(Transition::Closed) => {
                tracing::info!(provider = %self.provider, "circuit closed: upstream answers again")
            }
            None => {}
        }
        Ok(())
    }

    fn limit_error(&self, e: RateLimitError) -> GateError {
        let provider = self.provider;
        match e {
            RateLimitError::Throttled { retry_after, .. } => GateError::Throttled {
                provider,
                retry_after,
            },
            RateLimitError::Redis(source) => GateError::Redis { provider, source },
            other => GateError::Config {
                provider,
                message: other.to_string(),
            },
        }
    }

    fn redis(&self, source: redis::RedisError) -> GateError {
        GateError::Redis {
            provider: self.provider,
            source,
        }
    }

    /// Request URLs can carry a key (Etherscan's `apikey`): never let one into an error.
    fn transport(&self, source: reqwest::Error) -> GateError {
        GateError::Transport {
            provider: self.provider,
            source: source.without_url(),
        }
    }
}
