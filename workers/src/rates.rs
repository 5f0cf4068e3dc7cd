//! The `rates` queue: exchange rates from USD for each configured currency (`rates.currencies`,
//! or the job's own list) from Alpha Vantage, one `CURRENCY_EXCHANGE_RATE` call each, stored
//! newest-wins for the API's `?vs=`.
//!
//! Alpha Vantage's free key allows 25 calls a day: the calls go through its shared limiter
//! (`providers.alphavantage.rate_limit`, `25/day`), the default schedule spends 18 of them
//! (`settings::rates`), and a throttle (its `Information` body) hands the job back for an hour.
//! Without a key the job fetches nothing and says so in its result: rates are optional, and a
//! deployment without them answers `?vs=` for other currencies with 503 `rate_unavailable`.

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{RateCache, RateRecord},
    domain::Currency,
    jobs::RatesJob,
    queue::{JobError, JobResult},
    ratelimit::Provider,
};
use serde_json::json;

use crate::{alphavantage::AlphaVantage, boot::WorkerEnv};

/// The `source` of rates fetched from Alpha Vantage.
pub const SOURCE: &str = "alphavantage";

/// Handles `rates` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RatesWorker {
    /// `None` without a key.
    client: Option<AlphaVantage>,
    cache: RateCache,
    currencies: Vec<Currency>,
}

impl RatesWorker {
    pub fn new(env: &WorkerEnv) -> anyhow::Result<Self> {
        let settings = &env.settings;
        let client = settings
            .providers
            .has_key(Provider::AlphaVantage)
            .then(|| AlphaVantage::new(env))
            .transpose()?;
        Ok(Self {
            client,
            cache: RateCache::new(env.conn.clone(), env.keys.clone()),
            currencies: settings.rates.currencies.clone(),
        })
    }

    /// Fetches and stores each currency's rate in turn; stores what it got before failing on
    /// one, with that one's error. A currency whose stored rate was fetched after `since` (the
    /// task's enqueue: an earlier attempt of this task, or a later task, stored it) is kept, not
    /// fetched again, so a retry after a throttle spends the day's few calls only on what is
    /// still missing.
    pub async fn handle(&self, job: RatesJob, since: Option<DateTime<Utc>>) -> JobResult {
        let asked = job.currencies.unwrap_or_else(|| self.currencies.clone());
        let Some(client) = &self.client else {
            tracing::warn!("no Alpha Vantage key (ALPHAVANTAGE_API_KEY): no exchange rates fetched");
            return Ok(Some(json!({
                "written": 0,
                "skipped": "no Alpha Vantage key: set ALPHAVANTAGE_API_KEY to fetch exchange rates",
            })));
        };
        let held = match since {
            Some(_) => self
                .cache
                .get_many(&asked)
                .await
                .map_err(|e| JobError::transient(format!("reading the stored rates: {e}")))?,
            None => Default::default(),
        };
        let (kept, currencies): (Vec<Currency>, Vec<Currency>) = asked.into_iter().partition(|c| {
            since.is_some_and(|since| held.get(c).is_some_and(|rate| rate.fetched_at >= since))
        });
        let mut rates = serde_json::Map::new();
        for currency in &kept {
            rates.insert(currency.to_string(), json!(held[currency].per_usd.to_string()));
        }
        let mut written = 0;
        for currency in currencies {
            let fetched_at = Utc::now();
            let answer = match client.exchange_rate(Currency::USD, currency).await {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::warn!(error = %e, %currency, "no exchange rate");
                    return Err(JobError::from(e));
                }
            };
            if answer.from != Currency::USD || answer.to != currency {
                return Err(JobError::transient(format!(
                    "asked for USD to {currency}, alphavantage answered {} to {}",
                    answer.from, answer.to
                )));
            }
            let record = RateRecord {
                currency,
                per_usd: answer.rate,
                as_of: answer.last_refreshed,
                fetched_at,
                source: SOURCE.to_owned(),
            };
            let stored = self
                .cache
                .write(&record)
                .await
                .map_err(|e| JobError::transient(format!("writing the {currency} rate: {e}")))?;
            written += u32::from(stored);
            rates.insert(currency.to_string(), json!(record.per_usd.to_string()));
        }
        Ok(Some(json!({
            "source": SOURCE,
            "written": written,
            "kept": kept,
            "rates": rates,
        })))
    }
}

impl crate::worker::Worker for RatesWorker {
    type Job = RatesJob;
    const NAME: &'static str = "rates-worker";
    const ABOUT: &'static str = "Runs the `rates` queue: exchange rates from USD (Alpha Vantage) for prices in other currencies.";
    const PROVIDERS: &'static [Provider] = &[Provider::AlphaVantage];

    async fn build(env: &WorkerEnv) -> anyhow::Result<Self> {
        Self::new(env)
    }

    async fn run(&self, job: RatesJob, ctx: coinbeat_shared::queue::JobContext) -> JobResult {
        self.handle(job, Some(ctx.task_id.created_at())).await
    }
}
