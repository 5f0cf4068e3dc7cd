//! The `prices` queue: fetch USD prices through the price chain (`prices.providers`, by default
//! CoinGecko in batches, then Binance for what CoinGecko could not answer; Alchemy and CoinCap
//! can join it; see `chain`) and write them to the cache. A job naming a tier is a price tier's
//! run instead (see `tier`).
//!
//! One job names coin ids, or symbols (or neither: the tracked set). A symbol names the coin
//! `[prices.coins]` pins it to, else the catalogue's best-ranked coin with that symbol (the API
//! resolves symbols the same way); ids go out in batches of `max_ids_per_request`, a few batches
//! at a time. Every price that comes back
//! becomes a [`PriceRecord`] written newest-wins (see `PriceCache::write`), so a re-delivered or
//! late job never rolls the cache back. Each record says which link priced it (`source`). Only
//! when every link asked for a coin failed does the job fail (and retry), with the first
//! failure, after writing what the others priced.

use std::{sync::Arc, time::Duration};

use coinbeat_shared::{
    cache::{PriceCache, PriceRecord},
    catalogue::{Catalogue, CatalogueCache, CatalogueStore},
    domain::{CoinId, Symbol},
    jobs::PricesJob,
    queue::{JobError, JobResult},
    settings::PricesSettings,
};
use serde_json::json;

use crate::{binance::Binance, boot::WorkerEnv, coingecko::CoinGecko, coinlore::CoinLore};

mod chain;
mod coinlore_ids;
mod tier;

use chain::{Link, Wanted};

/// Handles `prices` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PriceWorker {
    /// The price chain's links, in order.
    chain: Vec<Link>,
    /// A `coingecko` tier's source.
    coingecko: CoinGecko,
    /// A `binance` tier's source.
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

impl PriceWorker {
    pub fn new(env: &WorkerEnv) -> anyhow::Result<Self> {
        let settings = &env.settings;
        let binance = settings
            .providers
            .binance
            .enabled
            .then(|| Binance::new(env))
            .transpose()?;
        let mut chain = Vec::new();
        for &source in &settings.prices.providers {
            chain.extend(Link::build(source, env)?);
        }
        if chain.is_empty() {
            anyhow::bail!(
                "the price chain is empty: prices.providers names only binance, and \
                 providers.binance.enabled is false"
            );
        }
        Ok(Self {
            chain,
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

        let outcome = chain::run_chain(&self.chain, &wanted, self.parallel_requests).await;
        let written = self.write(&outcome.records).await?;
        if !outcome.failed.is_empty() {
            let error = outcome.job_error();
            tracing::warn!(error = %error.reason(), coins = outcome.failed.len(), "no provider of the chain answered");
            return Err(error);
        }
        let mut missing: Vec<&str> = outcome.missing.iter().map(|w| w.asked.as_str()).collect();
        missing.sort_unstable();
        if !missing.is_empty() {
            tracing::warn!(?missing, "no price for some coins");
        }
        // The first link that failed, and the first one after it that priced something.
        let fallback = outcome
            .links
            .iter()
            .position(|link| link.error.is_some())
            .and_then(|failed| {
                let used = outcome.links[failed + 1..].iter().find(|l| l.priced > 0)?;
                Some(json!({
                    "source": used.source,
                    "priced": used.priced,
                    "reason": outcome.links[failed].error,
                }))
            });
        Ok(Some(json!({
            "source": self.chain.first().map(|l| l.source()),
            "requested": requested,
            "written": written.written,
            "skipped_not_newer": written.skipped,
            "alert_moves_logged": written.moves_logged,
            "missing": missing,
            "unmapped": unmapped,
            "upstream_requests": outcome.requests,
            "links": outcome.links,
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
                // Does its ticker name it (so a link asking by ticker may price it)?
                let by_ticker = Symbol::parse(&symbol).is_ok_and(|ticker| {
                    catalogue
                        .name_symbol(&self.prices, &ticker)
                        .is_some_and(|named| named.id == id)
                });
                Wanted {
                    asked: id.to_string(),
                    id,
                    symbol,
                    by_ticker,
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
                    by_ticker: true,
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

}

impl crate::worker::Worker for PriceWorker {
    type Job = PricesJob;
    const NAME: &'static str = "price-worker";
    const ABOUT: &'static str =
        "Runs the `prices` queue: fetches prices through the price chain (CoinGecko, Binance as fallback, by default) into the cache.";
    const PROVIDERS: &'static [coinbeat_shared::ratelimit::Provider] = &[
        coinbeat_shared::ratelimit::Provider::CoinGecko,
        coinbeat_shared::ratelimit::Provider::Binance,
        coinbeat_shared::ratelimit::Provider::Alchemy,
        coinbeat_shared::ratelimit::Provider::CoinCap,
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
