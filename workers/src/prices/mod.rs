//! The `prices` queue: fetch USD prices from CoinGecko in batches, fall back to Binance for
//! what CoinGecko could not answer, and write them to the cache. A job naming a tier is a
//! price tier's run instead (see `tier`).
//!
//! One job names coin ids, or symbols (or neither: the tracked set). A symbol names the coin
//! `[prices.coins]` pins it to, else the catalogue's best-ranked coin with that symbol (the API
//! resolves symbols the same way); ids go out in batches of `max_ids_per_request`, a few batches
//! at a time. Every price that comes back
//! becomes a [`PriceRecord`] written newest-wins (see `PriceCache::write`), so a re-delivered or
//! late job never rolls the cache back. When a CoinGecko batch fails, its symbols are asked of
//! Binance (USDT pairs) and recorded with `source: "binance"`; only when the fallback fails too
//! does the job fail (and retry), with CoinGecko's error.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use std::{sync::Arc, time::Duration};

use coinbeat_shared::{
    cache::{PriceCache, PriceRecord},
    catalogue::{Catalogue, CatalogueCache, CatalogueStore},
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
    coinlore::CoinLore,
};

mod coinlore_ids;
mod tier;

/// The `source` of records fetched from CoinGecko.
pub const SOURCE: &str = "coingecko";
/// The `source` of records fetched from the Binance fallback.
pub const FALLBACK_SOURCE: &str = "binance";

/// Handles `prices` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PriceWorker {
    coingecko: CoinGecko,
    binance: Option<Binance>,
    /// A tier's pages (see `tier`).
    coinlore: CoinLore,
    /// Coin id → CoinLore's own id, learned from every page read, so a coin whose rank drifted
    /// off its tier's pages is asked for by id. Shared by the clones (the job handlers).
    coinlore_ids: Arc<coinlore_ids::CoinLoreIds>,
    cache: PriceCache,
    prices: PricesSettings,
    parallel_requests: usize,
    /// For the operator's tracked set (`coinbeat_shared::tracked_symbols`).
    conn: redis::aio::ConnectionManager,
    keys: coinbeat_shared::keys::Keys,
    /// Symbols the settings do not pin resolve through it.
    catalogue: Arc<CatalogueCache>,
}

/// How long a worker trusts its copy of the catalogue before asking whether it changed.
const CATALOGUE_RECHECK: Duration = Duration::from_secs(5);

/// One coin a job asks for.
#[derive(Debug, Clone)]
struct Wanted {
    id: CoinId,
    /// The ticker its record shows (`""` for an id the catalogue does not list).
    symbol: String,
    /// How the job named it, for the result: the symbol, or the id.
    asked: String,
}

/// What the CoinGecko pass produced.
#[derive(Debug, Default)]
struct Pass<'a> {
    records: Vec<PriceRecord>,
    /// Coins CoinGecko answered without a price for (unknown ids).
    missing: Vec<&'a Wanted>,
    /// Coins whose batch failed, with the first failure.
    failed: Vec<&'a Wanted>,
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
            coinlore: CoinLore::new(env)?,
            coinlore_ids: Arc::new(coinlore_ids::CoinLoreIds::new(env.conn.clone(), &env.keys)),
            cache: PriceCache::new(env.conn.clone(), env.keys.clone(), &settings.prices),
            prices: settings.prices.clone(),
            parallel_requests: settings.providers.coingecko.max_concurrent_requests.max(1),
            conn: env.conn.clone(),
            keys: env.keys.clone(),
            catalogue: Arc::new(CatalogueCache::new(
                CatalogueStore::new(env.conn.clone(), env.keys.clone()),
                settings.prices.coins.clone(),
                CATALOGUE_RECHECK,
            )),
        })
    }

    /// Runs one job; the result says what was written, skipped and missing, and whether (and
    /// why) the fallback was used.
    pub async fn handle(&self, job: PricesJob) -> JobResult {
        if let Some(tier) = &job.tier {
            return self.refresh_tier(tier).await;
        }
        let catalogue = self
            .catalogue
            .get()
            .await
            .map_err(|e| JobError::transient(format!("reading the coin catalogue: {e}")))?;
        let (wanted, unmapped) = match (job.ids, job.symbols) {
            (Some(ids), _) => (self.by_id(&catalogue, ids), Vec::new()),
            (None, symbols) => {
                let symbols = match symbols {
                    Some(symbols) => symbols,
                    // The tracked set in force when the job runs: the operator's override in
                    // Redis (`/v1/admin/symbols`), else `prices.tracked`.
                    None => {
                        coinbeat_shared::tracked_symbols::load(&self.conn, &self.keys, &self.prices)
                            .await
                            .map_err(|e| {
                                JobError::transient(format!("reading the tracked set: {e}"))
                            })?
                    }
                };
                if symbols.is_empty() {
                    return Ok(Some(serde_json::json!({
                        "written": 0,
                        "note": "the tracked set is empty",
                    })));
                }
                self.by_symbol(&catalogue, &symbols)
            }
        };
        if wanted.is_empty() {
            return Err(JobError::permanent(format!(
                "no coin is known for any of: {} (not in [prices.coins] nor in the coin catalogue)",
                unmapped.join(", ")
            )));
        }
        let requested = wanted.len() + unmapped.len();

        let mut pass = self.ask_coingecko(&wanted).await;
        let mut fallback = serde_json::Value::Null;
        if let Some(error) = pass.failure.take() {
            tracing::warn!(%error, coins = pass.failed.len(), "coingecko failed");
            match self.ask_binance(&pass.failed).await {
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
        let mut missing: Vec<&str> = pass.missing.iter().map(|w| w.asked.as_str()).collect();
        missing.sort_unstable();
        if !missing.is_empty() {
            tracing::warn!(?missing, "no price for some coins");
        }
        Ok(Some(json!({
            "source": SOURCE,
            "requested": requested,
            "written": outcome.written,
            "skipped_not_newer": outcome.skipped,
            "missing": missing,
            "unmapped": unmapped,
            "upstream_requests": pass.requests,
            "fallback": fallback,
        })))
    }

    /// The coins of `ids`, each with the ticker the catalogue lists for it.
    fn by_id(&self, catalogue: &Catalogue, ids: Vec<CoinId>) -> Vec<Wanted> {
        let mut seen = std::collections::HashSet::new();
        ids.into_iter()
            .filter(|id| seen.insert(id.clone()))
            .map(|id| {
                let symbol = catalogue
                    .index
                    .get(&id)
                    .map(|coin| coin.symbol.clone())
                    .or_else(|| {
                        self.prices
                            .coins
                            .iter()
                            .find(|(_, pinned)| pinned.as_str() == id.as_str())
                            .map(|(symbol, _)| symbol.clone())
                    })
                    .unwrap_or_default();
                Wanted {
                    asked: id.to_string(),
                    id,
                    symbol,
                }
            })
            .collect()
    }

    /// The coin of each symbol (`Catalogue::name_symbol`), one per coin, and
    /// the symbols no coin has.
    fn by_symbol(&self, catalogue: &Catalogue, symbols: &[Symbol]) -> (Vec<Wanted>, Vec<String>) {
        let mut wanted: Vec<Wanted> = Vec::new();
        let mut unmapped = Vec::new();
        for symbol in symbols {
            let id = catalogue
                .name_symbol(&self.prices, symbol)
                .map(|named| named.id);
            match id {
                // One record per coin: the first symbol that names it names its record.
                Some(id) if wanted.iter().any(|w| w.id == id) => {}
                Some(id) => wanted.push(Wanted {
                    id,
                    symbol: symbol.to_string(),
                    asked: symbol.to_string(),
                }),
                None => unmapped.push(symbol.to_string()),
            }
        }
        (wanted, unmapped)
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

    /// Asks CoinGecko for every coin, in batches, a few at a time.
    async fn ask_coingecko<'a>(&self, wanted: &'a [Wanted]) -> Pass<'a> {
        let size = self.coingecko.max_ids_per_request().max(1);
        // Each batch as the range of `wanted` it covers and its ids (owned, so each fetch is a
        // future of its own).
        let batches: Vec<(std::ops::Range<usize>, Vec<String>)> = (0..wanted.len())
            .step_by(size)
            .map(|start| {
                let range = start..(start + size).min(wanted.len());
                let ids = wanted[range.clone()]
                    .iter()
                    .map(|w| w.id.to_string())
                    .collect();
                (range, ids)
            })
            .collect();
        let mut pass = Pass {
            requests: batches.len(),
            ..Pass::default()
        };
        let fetches = batches.into_iter().map(|(range, ids)| {
            let coingecko = self.coingecko.clone();
            async move {
                // When we asked, not when the answer arrived: see `PriceRecord::fetched_at`.
                let asked_at = Utc::now();
                let answer = coingecko.simple_prices(&ids).await;
                (range, answer, asked_at)
            }
        });
        let answers: Vec<_> = stream::iter(fetches)
            .buffer_unordered(self.parallel_requests)
            .collect()
            .await;
        for (range, answer, fetched_at) in answers {
            let batch = &wanted[range];
            let prices = match answer {
                Ok(prices) => prices,
                Err(e) => {
                    pass.failed.extend(batch.iter());
                    pass.failure.get_or_insert(e);
                    continue;
                }
            };
            for coin in batch {
                let Some(price) = prices.get(coin.id.as_str()) else {
                    pass.missing.push(coin);
                    continue;
                };
                pass.records.push(PriceRecord {
                    symbol: coin.symbol.clone(),
                    coin_id: coin.id.clone(),
                    usd: price.usd,
                    change_24h_pct: price.usd_24h_change,
                    market_cap_usd: price.usd_market_cap,
                    volume_24h_usd: price.usd_24h_vol,
                    upstream_updated_at: price.last_updated_at,
                    fetched_at,
                    source: SOURCE.to_owned(),
                });
            }
        }
        pass
    }

    /// Asks Binance for `coins` (USDT pairs of their tickers). `None` when the fallback is off;
    /// otherwise the records and the coins Binance has no pair for.
    async fn ask_binance<'a>(
        &self,
        coins: &[&'a Wanted],
    ) -> Option<Result<(Vec<PriceRecord>, Vec<&'a Wanted>), BinanceError>> {
        let binance = self.binance.as_ref()?;
        let pairs: BTreeMap<String, &'a Wanted> = coins
            .iter()
            .filter_map(|w| {
                let symbol = Symbol::parse(&w.symbol).ok()?;
                pair_for(&symbol).map(|p| (p, *w))
            })
            .collect();
        let wanted: Vec<String> = pairs.keys().cloned().collect();
        let fetched_at = Utc::now();
        let tickers = match binance.tickers_24h(&wanted).await {
            Ok(tickers) => tickers,
            Err(e) => return Some(Err(e)),
        };
        let mut records = Vec::with_capacity(tickers.len());
        for ticker in tickers {
            let Some(coin) = pairs.get(&ticker.pair) else {
                continue;
            };
            records.push(binance_record(&coin.id, &coin.symbol, ticker, fetched_at));
        }
        let unpriced = coins
            .iter()
            .filter(|w| !records.iter().any(|r| r.coin_id == w.id))
            .copied()
            .collect();
        Some(Ok((records, unpriced)))
    }
}

/// A record of the coin `id` (listed as `symbol`) from its Binance USDT pair's 24 h ticker:
/// the last trade's price, no market cap.
fn binance_record(
    id: &CoinId,
    symbol: &str,
    ticker: crate::binance::Ticker24h,
    fetched_at: DateTime<Utc>,
) -> PriceRecord {
    PriceRecord {
        symbol: symbol.to_owned(),
        coin_id: id.clone(),
        usd: ticker.last_price,
        change_24h_pct: ticker.price_change_percent,
        market_cap_usd: None,
        volume_24h_usd: ticker.quote_volume,
        upstream_updated_at: ticker
            .close_time_ms
            .and_then(DateTime::from_timestamp_millis),
        fetched_at,
        source: FALLBACK_SOURCE.to_owned(),
    }
}

impl crate::worker::Worker for PriceWorker {
    type Job = PricesJob;
    const NAME: &'static str = "price-worker";
    const ABOUT: &'static str =
        "Runs the `prices` queue: fetches prices (CoinGecko, Binance as fallback) into the cache.";
    const PROVIDERS: &'static [coinbeat_shared::ratelimit::Provider] = &[
        coinbeat_shared::ratelimit::Provider::CoinGecko,
        coinbeat_shared::ratelimit::Provider::Binance,
    ];

    async fn build(env: &WorkerEnv) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        // Price records an older release kept under a symbol move to their coin id's keys
        // before this worker writes any.
        coinbeat_shared::cache::migrate_symbol_keys(
            &env.conn,
            &env.keys,
            env.settings.prices.history_points,
        )
        .await
        .context("moving price records from symbol keys to coin id keys")?;
        Self::new(env)
    }

    async fn run(&self, job: PricesJob, _ctx: coinbeat_shared::queue::JobContext) -> JobResult {
        self.handle(job).await
    }
}
