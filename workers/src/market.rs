//! The `market` queue: the top-N coins by market cap, the global market figures and the supply
//! of the tracked coins, from CoinGecko, with CoinLore as the fallback for the top-N.
//!
//! `/coins/markets` is read in pages of up to 250 rows, a few pages at a time; `/global` once;
//! `/coins/{id}` once per tracked coin id, a few at a time. Each document is written newest-wins
//! (see `MarketCache`), so a re-delivered or late job never rolls the cache back. When CoinGecko
//! cannot give the top-N, CoinLore's `/tickers/` is asked instead and the snapshot says
//! `source: "coinlore"`; the global figures likewise come from CoinLore's `/global/` then. CoinLore
//! has no equivalent of `/coins/{id}`, so supplies are reported as missing in the job's result
//! (the cache keeps its older figures), never made up. Only when both upstreams fail for the
//! top-N does the job fail (and retry), with CoinGecko's error.

use std::collections::BTreeSet;

use chrono::Utc;
use coinbeat_shared::{
    cache::{CoinSupply, GlobalStats, MarketCache, MarketRow, MarketSnapshot},
    domain::CoinId,
    jobs::MarketJob,
    queue::{JobError, JobResult},
    settings::PricesSettings,
};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

use crate::{
    boot::WorkerEnv,
    coingecko::{self, CoinGecko, CoinGeckoError},
    coinlore::{self, CoinLore, CoinLoreError},
};

/// The `source` of records fetched from CoinGecko.
pub const SOURCE: &str = "coingecko";
/// The `source` of snapshots fetched from the CoinLore fallback.
pub const FALLBACK_SOURCE: &str = "coinlore";
/// Most coins one job may ask for (four CoinGecko pages, ten CoinLore pages).
pub const MAX_LIMIT: u32 = 1_000;

/// Handles `market` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MarketWorker {
    coingecko: CoinGecko,
    coinlore: CoinLore,
    cache: MarketCache,
    prices: PricesSettings,
    parallel_requests: usize,
}

impl MarketWorker {
    pub fn new(env: &WorkerEnv) -> anyhow::Result<Self> {
        let settings = &env.settings;
        Ok(Self {
            coingecko: CoinGecko::new(env)?,
            coinlore: CoinLore::new(env)?,
            cache: MarketCache::new(env.conn.clone(), env.keys.clone(), &settings.markets),
            prices: settings.prices.clone(),
            parallel_requests: settings.providers.coingecko.max_concurrent_requests.max(1),
        })
    }

    /// Runs one job; the result says what was written, where the top-N came from, and what is
    /// missing and why.
    pub async fn handle(&self, job: MarketJob) -> JobResult {
        if job.limit == 0 || job.limit > MAX_LIMIT {
            return Err(JobError::permanent(format!(
                "limit must be 1..={MAX_LIMIT}, got {}",
                job.limit
            )));
        }
        let supplies = async {
            if job.supply {
                self.supplies().await
            } else {
                Ok(Value::String("not asked".into()))
            }
        };
        let (top, global, supply) = tokio::join!(self.top(job.limit), self.global(), supplies);
        let global = global?;
        let supply = supply?;
        let (snapshot, fallback) = top?;
        let written = self.cache.write_snapshot(&snapshot).await.map_err(cache)?;
        Ok(Some(json!({
            "source": snapshot.source,
            "requested": job.limit,
            "rows": snapshot.rows.len(),
            "snapshot_written": written,
            "fallback": fallback,
            "global": global,
            "supply": supply,
        })))
    }

    /// The top `limit` rows from CoinGecko, or from CoinLore when CoinGecko fails (with a note
    /// saying why). Both failing is CoinGecko's error, except that a job whose CoinGecko error
    /// is permanent (a refused key) stays retryable while CoinLore's failure may pass.
    async fn top(&self, limit: u32) -> Result<(MarketSnapshot, Value), JobError> {
        // Every `fetched_at` is when we asked (see `PriceRecord::fetched_at`).
        let asked_at = Utc::now();
        let error = match self.coingecko_top(limit).await {
            Ok(rows) => {
                let snapshot = MarketSnapshot {
                    rows,
                    fetched_at: asked_at,
                    source: SOURCE.to_owned(),
                };
                return Ok((snapshot, Value::Null));
            }
            Err(error) => error,
        };
        tracing::warn!(%error, "coingecko markets failed; asking coinlore");
        let asked_at = Utc::now();
        match self.coinlore_top(limit).await {
            Ok(rows) => {
                let fallback = json!({
                    "source": FALLBACK_SOURCE,
                    "rows": rows.len(),
                    "reason": error.to_string(),
                });
                let snapshot = MarketSnapshot {
                    rows,
                    fetched_at: asked_at,
                    source: FALLBACK_SOURCE.to_owned(),
                };
                Ok((snapshot, fallback))
            }
            Err(fallback_error) => {
                tracing::warn!(error = %fallback_error, "the coinlore fallback failed too");
                let fallback_may_recover =
                    !matches!(&fallback_error, CoinLoreError::Gate(gate) if gate.is_permanent());
                Err(if !error.is_transient() && fallback_may_recover {
                    JobError::transient(format!(
                        "{error}; the coinlore fallback failed too: {fallback_error}"
                    ))
                } else {
                    JobError::from(error)
                })
            }
        }
    }

    async fn coingecko_top(&self, limit: u32) -> Result<Vec<MarketRow>, CoinGeckoError> {
        let per_page = limit.min(coingecko::MAX_PER_PAGE);
        let pages = limit.div_ceil(per_page);
        let pages: Vec<Vec<MarketRow>> = stream::iter(1..=pages)
            .map(|page| self.coingecko.markets(page, per_page))
            .buffered(self.parallel_requests)
            .try_collect()
            .await?;
        let mut rows: Vec<MarketRow> = pages.into_iter().flatten().collect();
        rows.truncate(limit as usize);
        // An empty list would replace a good snapshot (newest wins) with nothing.
        if rows.is_empty() {
            return Err(CoinGeckoError::Unavailable {
                status: 200,
                message: "an empty /coins/markets list".into(),
            });
        }
        Ok(rows)
    }

    async fn coinlore_top(&self, limit: u32) -> Result<Vec<MarketRow>, CoinLoreError> {
        let mut rows = Vec::with_capacity(limit as usize);
        while (rows.len() as u32) < limit {
            let start = rows.len() as u32;
            let want = (limit - start).min(coinlore::MAX_PER_PAGE);
            let page = self.coinlore.tickers(start, want).await?;
            if page.rows.is_empty() {
                break;
            }
            rows.extend(page.rows);
        }
        rows.truncate(limit as usize);
        if rows.is_empty() {
            return Err(CoinLoreError::Unavailable {
                status: 200,
                message: "an empty /tickers/ list".into(),
            });
        }
        Ok(rows)
    }

    /// Fetches and writes the global figures; what happened, for the job's result.
    async fn global(&self) -> Result<Value, JobError> {
        let asked_at = Utc::now();
        let stats = match self.coingecko.global().await {
            Ok(global) => GlobalStats {
                total_market_cap_usd: global.total_market_cap_usd,
                total_volume_usd: global.total_volume_usd,
                btc_dominance_pct: global.btc_dominance_pct,
                eth_dominance_pct: global.eth_dominance_pct,
                active_cryptocurrencies: global.active_cryptocurrencies,
                upstream_updated_at: global.updated_at,
                fetched_at: asked_at,
                source: SOURCE.to_owned(),
            },
            Err(error) => {
                tracing::warn!(%error, "coingecko /global failed; asking coinlore");
                let asked_at = Utc::now();
                match self.coinlore.global().await {
                    Ok(global) => GlobalStats {
                        total_market_cap_usd: global.total_mcap,
                        total_volume_usd: global.total_volume,
                        btc_dominance_pct: global.btc_d,
                        eth_dominance_pct: global.eth_d,
                        active_cryptocurrencies: global.coins_count,
                        // CoinLore does not say when it computed them.
                        upstream_updated_at: None,
                        fetched_at: asked_at,
                        source: FALLBACK_SOURCE.to_owned(),
                    },
                    Err(fallback) => {
                        tracing::warn!(error = %fallback, "no global market figures");
                        return Ok(json!({
                            "written": false,
                            "missing": format!("{error}; the coinlore fallback failed too: {fallback}"),
                        }));
                    }
                }
            }
        };
        let written = self.cache.write_global(&stats).await.map_err(cache)?;
        Ok(json!({ "written": written, "source": stats.source }))
    }

    /// Fetches and writes the supply of every tracked coin id, a few at a time; what happened,
    /// for the job's result.
    async fn supplies(&self) -> Result<Value, JobError> {
        let ids: BTreeSet<CoinId> = self
            .prices
            .tracked
            .iter()
            .filter_map(|symbol| self.prices.coin_id(symbol))
            .filter_map(|id| CoinId::parse(id).ok())
            .collect();
        let answers: Vec<_> = stream::iter(ids)
            .map(|id| async move {
                let asked_at = Utc::now();
                let answer = self.coingecko.coin(&id).await;
                (id, answer, asked_at)
            })
            .buffer_unordered(self.parallel_requests)
            .collect()
            .await;
        let (mut written, mut skipped, mut missing) = (0, 0, Vec::new());
        for (id, answer, fetched_at) in answers {
            let coin = match answer {
                Ok(coin) => coin,
                Err(error) => {
                    missing.push(json!({ "coin_id": id, "error": error.to_string() }));
                    continue;
                }
            };
            let supply = CoinSupply {
                coin_id: id.to_string(),
                symbol: coin.symbol,
                name: coin.name,
                circulating_supply: coin.circulating_supply,
                total_supply: coin.total_supply,
                max_supply: coin.max_supply,
                fetched_at,
                source: SOURCE.to_owned(),
            };
            if self.cache.write_supply(&id, &supply).await.map_err(cache)? {
                written += 1;
            } else {
                skipped += 1;
            }
        }
        if !missing.is_empty() {
            tracing::warn!(coins = missing.len(), "no supply figures for some coins");
        }
        Ok(json!({ "written": written, "skipped_not_newer": skipped, "missing": missing }))
    }
}

fn cache(e: coinbeat_shared::cache::CacheError) -> JobError {
    JobError::transient(format!("writing market data: {e}"))
}

impl crate::worker::Worker for MarketWorker {
    type Job = MarketJob;
    const NAME: &'static str = "market-worker";
    const ABOUT: &'static str = "Runs the `market` queue: market lists, global figures and coin details (CoinGecko, CoinLore as fallback).";
    const PROVIDERS: &'static [coinbeat_shared::ratelimit::Provider] = &[
        coinbeat_shared::ratelimit::Provider::CoinGecko,
        coinbeat_shared::ratelimit::Provider::CoinLore,
    ];

    async fn build(env: &WorkerEnv) -> anyhow::Result<Self> {
        Self::new(env)
    }

    async fn run(&self, job: MarketJob, _ctx: coinbeat_shared::queue::JobContext) -> JobResult {
        self.handle(job).await
    }
}
