//! The `prices` queue: fetch USD prices from CoinGecko in batches, fall back to Binance for
//! what CoinGecko could not answer, and write them to the cache.
//!
//! One job names symbols (or none: the tracked set). Each symbol maps to a CoinGecko id; ids go
//! out in batches of `max_ids_per_request`, a few batches at a time. Every price that comes back
//! becomes a [`PriceRecord`] written newest-wins (see `PriceCache::write`), so a re-delivered or
//! late job never rolls the cache back. When a CoinGecko batch fails, its symbols are asked of
//! Binance (USDT pairs) and recorded with `source: "binance"`; only when the fallback fails too
//! does the job fail (and retry), with CoinGecko's error.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{PriceCache, PriceRecord},
    domain::{CoinId, Symbol},
    jobs::PricesJob,
    queue::{JobError, JobResult},
    settings::PricesSettings,
};
use futures::{StreamExt, stream};
use serde_json::json;

use crate::{
    binance::{Binance, BinanceError, pair_for},
    boot::WorkerEnv,
    coingecko::{CoinGecko, CoinGeckoError},
};

/// The `source` of records fetched from CoinGecko.
pub const SOURCE: &str = "coingecko";
/// The `source` of records fetched from the Binance fallback.
pub const FALLBACK_SOURCE: &str = "binance";

/// Handles `prices` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PriceWorker {
    coingecko: CoinGecko,
    binance: Option<Binance>,
    cache: PriceCache,
    prices: PricesSettings,
    parallel_requests: usize,
    /// For the operator's tracked set (`coinbeat_shared::tracked_symbols`).
    conn: redis::aio::ConnectionManager,
    keys: coinbeat_shared::keys::Keys,
}

/// Symbols grouped by the CoinGecko id they map to (several symbols may share one id).
type ById<'a> = BTreeMap<&'a str, Vec<&'a Symbol>>;

/// What the CoinGecko pass produced.
#[derive(Debug, Default)]
struct Pass<'a> {
    records: Vec<PriceRecord>,
    /// Symbols CoinGecko answered without a price for (unknown ids).
    missing: Vec<&'a Symbol>,
    /// Symbols whose batch failed, with the first failure.
    failed: Vec<&'a Symbol>,
    failure: Option<CoinGeckoError>,
    requests: usize,
}

impl PriceWorker {
    pub fn new(env: &WorkerEnv) -> anyhow::Result<Self> {
        let settings = &env.settings;
        let binance = settings
            .providers
            .binance
            .enabled
            .then(|| Binance::new(env))
            .transpose()?;
        Ok(Self {
            coingecko: CoinGecko::new(env)?,
            binance,
            cache: PriceCache::new(env.conn.clone(), env.keys.clone(), &settings.prices),
            prices: settings.prices.clone(),
            parallel_requests: settings.providers.coingecko.max_concurrent_requests.max(1),
            conn: env.conn.clone(),
            keys: env.keys.clone(),
        })
    }

    /// Runs one job; the result says what was written, skipped and missing, and whether (and
    /// why) the fallback was used.
    pub async fn handle(&self, job: PricesJob) -> JobResult {
        let symbols = match job.symbols {
            Some(symbols) => symbols,
            // The tracked set in force when the job runs: the operator's override in Redis
            // (`/v1/admin/symbols`), else `prices.tracked`.
            None => coinbeat_shared::tracked_symbols::load(&self.conn, &self.keys, &self.prices)
                .await
                .map_err(|e| JobError::transient(format!("reading the tracked set: {e}")))?,
        };
        if symbols.is_empty() {
            return Ok(Some(serde_json::json!({
                "written": 0,
                "note": "the tracked set is empty",
            })));
        }
        let mut by_id: ById = BTreeMap::new();
        let mut unmapped = Vec::new();
        for symbol in &symbols {
            // Configured ids are coin ids (checked when the settings load).
            match self
                .prices
                .coin_id(symbol)
                .filter(|id| CoinId::parse(id).is_ok())
            {
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

        let mut pass = self.ask_coingecko(&by_id).await;
        let mut fallback = serde_json::Value::Null;
        if let Some(error) = pass.failure.take() {
            tracing::warn!(%error, symbols = pass.failed.len(), "coingecko failed");
            match self.ask_binance(&pass.failed, &by_id).await {
                Some(Ok((records, unpriced))) => {
                    fallback = json!({
                        "source": FALLBACK_SOURCE,
                        "priced": records.len(),
                        "reason": error.to_string(),
                    });
                    pass.records.extend(records);
                    pass.missing.extend(unpriced);
                }
                Some(Err(fallback_error)) => {
                    tracing::warn!(error = %fallback_error, "the binance fallback failed too");
                    self.write(&pass.records).await?;
                    return Err(JobError::from(error));
                }
                None => {
                    self.write(&pass.records).await?;
                    return Err(JobError::from(error));
                }
            }
        }

        let outcome = self.write(&pass.records).await?;
        let missing: Vec<&str> = pass.missing.iter().map(|s| s.as_str()).collect();
        if !missing.is_empty() {
            tracing::warn!(?missing, "no price for some symbols");
        }
        Ok(Some(json!({
            "source": SOURCE,
            "requested": symbols.len(),
            "written": outcome.written,
            "skipped_not_newer": outcome.skipped,
            "missing": missing,
            "unmapped": unmapped,
            "upstream_requests": pass.requests,
            "fallback": fallback,
        })))
    }

    async fn write(
        &self,
        records: &[PriceRecord],
    ) -> Result<coinbeat_shared::cache::WriteOutcome, JobError> {
        self.cache
            .write(records)
            .await
            .map_err(|e| JobError::transient(format!("writing prices: {e}")))
    }

    /// Asks CoinGecko for every id, in batches, a few at a time.
    async fn ask_coingecko<'a>(&self, by_id: &ById<'a>) -> Pass<'a> {
        let ids: Vec<String> = by_id.keys().map(|id| (*id).to_owned()).collect();
        let batches: Vec<Vec<String>> = ids
            .chunks(self.coingecko.max_ids_per_request())
            .map(<[String]>::to_vec)
            .collect();
        let mut pass = Pass {
            requests: batches.len(),
            ..Pass::default()
        };
        let fetches = batches.into_iter().map(|batch| {
            let coingecko = self.coingecko.clone();
            async move {
                // When we asked, not when the answer arrived: see `PriceRecord::fetched_at`.
                let asked_at = Utc::now();
                let answer = coingecko.simple_prices(&batch).await;
                (batch, answer, asked_at)
            }
        });
        let answers: Vec<_> = stream::iter(fetches)
            .buffer_unordered(self.parallel_requests)
            .collect()
            .await;
        for (batch, answer, fetched_at) in answers {
            let prices = match answer {
                Ok(prices) => prices,
                Err(e) => {
                    pass.failed.extend(
                        batch
                            .iter()
                            .flat_map(|id| by_id[id.as_str()].iter().copied()),
                    );
                    pass.failure.get_or_insert(e);
                    continue;
                }
            };
            for id in &batch {
                let symbols = &by_id[id.as_str()];
                let (Some(price), Ok(coin_id)) = (prices.get(id), CoinId::parse(id)) else {
                    pass.missing.extend(symbols.iter().copied());
                    continue;
                };
                // One record per coin (its key); the first symbol configured for it names it.
                pass.records
                    .extend(symbols.first().map(|symbol| PriceRecord {
                        symbol: (*symbol).clone(),
                        coin_id,
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
        pass
    }

    /// Asks Binance for `symbols` (USDT pairs). `None` when the fallback is off; otherwise the
    /// records and the symbols Binance has no pair for.
    async fn ask_binance<'a>(
        &self,
        symbols: &[&'a Symbol],
        by_id: &ById<'a>,
    ) -> Option<Result<(Vec<PriceRecord>, Vec<&'a Symbol>), BinanceError>> {
        let binance = self.binance.as_ref()?;
        let coin_ids: BTreeMap<&Symbol, CoinId> = by_id
            .iter()
            .filter_map(|(id, syms)| Some((syms.first()?, CoinId::parse(id).ok()?)))
            .map(|(symbol, id)| (*symbol, id))
            .collect();
        let pairs: BTreeMap<String, &Symbol> = symbols
            .iter()
            .filter_map(|s| pair_for(s).map(|p| (p, *s)))
            .collect();
        let wanted: Vec<String> = pairs.keys().cloned().collect();
        let fetched_at = Utc::now();
        let tickers = match binance.tickers_24h(&wanted).await {
            Ok(tickers) => tickers,
            Err(e) => return Some(Err(e)),
        };
        let mut records = Vec::with_capacity(tickers.len());
        for ticker in tickers {
            let Some(symbol) = pairs.get(&ticker.pair) else {
                continue;
            };
            let Some(coin_id) = coin_ids.get(*symbol) else {
                continue;
            };
            records.push(PriceRecord {
                symbol: (*symbol).clone(),
                coin_id: coin_id.clone(),
                usd: ticker.last_price,
                change_24h_pct: ticker.price_change_percent,
                market_cap_usd: None,
                volume_24h_usd: ticker.quote_volume,
                upstream_updated_at: ticker
                    .close_time_ms
                    .and_then(DateTime::from_timestamp_millis),
                fetched_at,
                source: FALLBACK_SOURCE.to_owned(),
            });
        }
        let unpriced = symbols
            .iter()
            .filter(|s| !records.iter().any(|r| &r.symbol == **s))
            .copied()
            .collect();
        Some(Ok((records, unpriced)))
    }
}
