//! The `prices` queue: fetch USD prices from CoinGecko in batches and write them to the cache.
//!
//! One job names symbols (or none: the tracked set). Each symbol maps to a CoinGecko id; ids go
//! out in batches of `max_ids_per_request`, a few batches at a time. Every price that comes back
//! becomes a [`PriceRecord`] written newest-wins (see `PriceCache::write`), so a re-delivered or
//! late job never rolls the cache back. A failed batch makes the job transient-fail after the
//! successful batches are written; the retry re-fetches and the newest-wins rule sorts it out.

use std::collections::BTreeMap;

use chrono::Utc;
use coinbeat_shared::{
    cache::{PriceCache, PriceRecord},
    domain::Symbol,
    jobs::PricesJob,
    queue::{JobError, JobResult},
    settings::PricesSettings,
};
use futures::{StreamExt, stream};
use serde_json::json;

use crate::{
    boot::WorkerEnv,
    coingecko::{CoinGecko, CoinGeckoError},
};

/// The `source` written into every record this worker makes.
pub const SOURCE: &str = "coingecko";

/// Handles `prices` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PriceWorker {
    coingecko: CoinGecko,
    cache: PriceCache,
    prices: PricesSettings,
    parallel_requests: usize,
}

impl PriceWorker {
    pub fn new(env: &WorkerEnv) -> Result<Self, CoinGeckoError> {
        let settings = &env.settings;
        Ok(Self {
            coingecko: CoinGecko::new(&settings.providers.coingecko)?,
            cache: PriceCache::new(env.conn.clone(), env.keys.clone(), &settings.prices),
            prices: settings.prices.clone(),
            parallel_requests: settings.providers.coingecko.max_concurrent_requests.max(1),
        })
    }

    /// Runs one job; the result says what was written, skipped and missing.
    pub async fn handle(&self, job: PricesJob) -> JobResult {
        let symbols = job.symbols.unwrap_or_else(|| self.prices.tracked.clone());
        let mut by_id: BTreeMap<&str, Vec<&Symbol>> = BTreeMap::new();
        let mut unmapped = Vec::new();
        for symbol in &symbols {
            match self.prices.coin_id(symbol) {
                Some(id) => by_id.entry(id).or_default().push(symbol),
                None => unmapped.push(symbol.as_str()),
            }
        }
        if by_id.is_empty() {
            return Err(JobError::permanent(format!(
                "no CoinGecko id is configured for any of: {}",
                unmapped.join(", ")
            )));
        }

        let ids: Vec<String> = by_id.keys().map(|id| (*id).to_owned()).collect();
        let batches: Vec<Vec<String>> = ids
            .chunks(self.coingecko.max_ids_per_request())
            .map(<[String]>::to_vec)
            .collect();
        let requests = batches.len();
        let fetches = batches.into_iter().map(|batch| {
            let coingecko = self.coingecko.clone();
            async move {
                let answer = coingecko.simple_prices(&batch).await;
                (batch, answer, Utc::now())
            }
        });
        let answers: Vec<_> = stream::iter(fetches)
            .buffer_unordered(self.parallel_requests)
            .collect()
            .await;

        let mut records = Vec::with_capacity(symbols.len());
        let mut missing = Vec::new();
        let mut failure: Option<CoinGeckoError> = None;
        for (batch, answer, fetched_at) in answers {
            let prices = match answer {
                Ok(prices) => prices,
                Err(e) => {
                    tracing::warn!(ids = batch.len(), error = %e, "a /simple/price batch failed");
                    failure.get_or_insert(e);
                    continue;
                }
            };
            for id in &batch {
                let symbols = &by_id[id.as_str()];
                let Some(price) = prices.get(id) else {
                    missing.extend(symbols.iter().map(|s| s.as_str()));
                    continue;
                };
                records.extend(symbols.iter().map(|symbol| PriceRecord {
                    symbol: (*symbol).clone(),
                    coin_id: id.clone(),
                    usd: price.usd,
                    change_24h_pct: price.usd_24h_change,
                    market_cap_usd: price.usd_market_cap,
                    volume_24h_usd: price.usd_24h_vol,
                    upstream_updated_at: price.last_updated_at,
                    fetched_at,
                    source: SOURCE.to_owned(),
                }));
            }
        }

        let outcome = self
            .cache
            .write(&records)
            .await
            .map_err(|e| JobError::transient(format!("writing prices: {e}")))?;
        if let Some(e) = failure {
            // Permanent errors (bad key) fail the job at once; others retry the whole job.
            return Err(JobError::from(e));
        }
        if !missing.is_empty() {
            tracing::warn!(?missing, "coingecko had no price for some ids");
        }
        Ok(Some(json!({
            "source": SOURCE,
            "requested": symbols.len(),
            "written": outcome.written,
            "skipped_not_newer": outcome.skipped,
            "missing": missing,
            "unmapped": unmapped,
            "upstream_requests": requests,
        })))
    }
}
