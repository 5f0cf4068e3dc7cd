//! The `catalogue` queue: every coin the market lists, with ranks, into the catalogue
//! (`coinbeat_shared::catalogue`).
//!
//! CoinGecko first: `/coins/list?include_platform=true` (one call: ids, symbols, names,
//! contracts), then `/coins/markets` pages for the ranks and market caps of the top
//! `catalogue.rank_depth` coins (20 calls at the default 5,000). When the ranks cannot be had
//! from CoinGecko, CoinLore's `/tickers/` pages give them (matched by id: CoinLore's `nameid`
//! follows CoinGecko's slugs) and `source` says `coingecko+coinlore`; when the listing itself
//! cannot be had, the whole catalogue comes from CoinLore's pages (`source: "coinlore"`, no
//! contracts). Only when both fail does the job fail, and retry; the stored catalogue stays.
//!
//! A refresh is a batch that nobody waits for, while the price and market jobs share the same
//! limits and someone waits for them: its pages go one at a time, each at most every twice the
//! gap the provider's shortest window allows (4 s at CoinGecko's `30/min`, 2 s at CoinLore's
//! `1/s`), so it never takes more than half of any limit and a price job arriving meanwhile
//! finds permits free.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use coinbeat_shared::{
    cache::MarketRow,
    catalogue::{CatalogueCoin, CatalogueError, CatalogueStore, Written, normalize_symbol},
    domain::CoinId,
    jobs::CatalogueJob,
    queue::{JobError, JobResult, stoppable},
    ratelimit::{Provider, RateSpec},
    settings::CatalogueSettings,
};
use serde_json::{Value, json};

use crate::{
    boot::WorkerEnv,
    coingecko::{self, CoinGecko, CoinGeckoError},
    coinlore::{self, CoinLore, CoinLoreError},
};

/// The most CoinLore pages one refresh reads (100 coins each): far past the 14,000 coins it
/// lists, so a listing that never ends cannot hold a worker forever.
const MAX_COINLORE_PAGES: u32 = 400;

/// Handles `catalogue` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CatalogueWorker {
    coingecko: CoinGecko,
    coinlore: CoinLore,
    store: CatalogueStore,
    settings: CatalogueSettings,
    /// Least time between two pages from CoinGecko, from CoinLore.
    coingecko_pace: Duration,
    coinlore_pace: Duration,
}

/// Where the ranks came from, when not from CoinGecko.
struct Ranked {
    source: &'static str,
    fallback: Value,
}

impl CatalogueWorker {
    pub fn new(env: &WorkerEnv) -> anyhow::Result<Self> {
        let settings = &env.settings;
        Ok(Self {
            coingecko: CoinGecko::new(env)?,
            coinlore: CoinLore::new(env)?,
            store: CatalogueStore::new(env.conn.clone(), env.keys.clone()),
            settings: settings.catalogue.clone(),
            coingecko_pace: pace(settings.providers.rate_spec(Provider::CoinGecko).ok()),
            coinlore_pace: pace(settings.providers.rate_spec(Provider::CoinLore).ok()),
        })
    }

    /// Refreshes the catalogue; the result says how many coins, where from, and what it
    /// replaced.
    pub async fn handle(&self, _job: CatalogueJob) -> JobResult {
        let asked_at = Utc::now();
        let (coins, skipped, ranked) = match self.coingecko.coins_list().await {
            Ok(list) => {
                let mut coins = list.coins;
                let ranked = self.rank(&mut coins).await?;
                (coins, list.skipped, ranked)
            }
            Err(error) => {
                tracing::warn!(%error, "coingecko /coins/list failed; listing from coinlore");
                let rows = self
                    .coinlore_pages(u32::MAX)
                    .await
                    .map_err(|fallback| both_failed(&error, &fallback))?;
                let (coins, skipped) = from_coinlore(rows);
                let ranked = Ranked {
                    source: "coinlore",
                    fallback: json!({ "reason": error.to_string() }),
                };
                (coins, skipped, ranked)
            }
        };
        if coins.is_empty() {
            return Err(JobError::transient("the upstream listed no coins"));
        }
        let written = self
            .store
            .replace(&coins, ranked.source, asked_at, self.settings.min_share_pct)
            .await
            .map_err(|e| match e {
                CatalogueError::Shrank { .. } => JobError::permanent(e.to_string()),
                other => JobError::transient(format!("writing the catalogue: {other}")),
            })?;
        let (written, previous) = match written {
            Written::Replaced { previous } => (true, Some(previous)),
            Written::Older => (false, None),
        };
        Ok(Some(json!({
            "source": ranked.source,
            "coins": coins.len(),
            "ranked": coins.iter().filter(|c| c.rank.is_some()).count(),
            "skipped_ids": skipped,
            "written": written,
            "previous_coins": previous,
            "fallback": ranked.fallback,
        })))
    }

    /// Gives `coins` their ranks and market caps: CoinGecko's, else CoinLore's.
    async fn rank(&self, coins: &mut [CatalogueCoin]) -> Result<Ranked, JobError> {
        let error = match self.coingecko_ranks().await {
            Ok(rows) => {
                apply_ranks(coins, &rows);
                return Ok(Ranked {
                    source: "coingecko",
                    fallback: Value::Null,
                });
            }
            Err(error) => error,
        };
        tracing::warn!(%error, "coingecko /coins/markets failed; ranking from coinlore");
        let rows = self
            .coinlore_pages(self.settings.rank_depth)
            .await
            .map_err(|fallback| both_failed(&error, &fallback))?;
        apply_ranks(coins, &rows);
        Ok(Ranked {
            source: "coingecko+coinlore",
            fallback: json!({ "reason": error.to_string(), "ranks": "coinlore" }),
        })
    }

    /// The top `rank_depth` rows of `/coins/markets`, page by page at the pace.
    async fn coingecko_ranks(&self) -> Result<Vec<MarketRow>, CoinGeckoError> {
        let per_page = coingecko::MAX_PER_PAGE;
        let mut pacer = Pacer::new(self.coingecko_pace);
        let mut rows: Vec<MarketRow> = Vec::new();
        for page in 1..=self.settings.rank_pages(per_page) {
            pacer.wait().await;
            let page = self.coingecko.markets(page, per_page).await?;
            let short = (page.len() as u32) < per_page;
            rows.extend(page);
            if short {
                break;
            }
        }
        if rows.is_empty() && self.settings.rank_depth > 0 {
            return Err(CoinGeckoError::Unavailable {
                status: 200,
                message: "an empty /coins/markets list".into(),
            });
        }
        Ok(rows)
    }

    /// CoinLore's tickers in rank order, up to `limit` coins or the end of its list.
    async fn coinlore_pages(&self, limit: u32) -> Result<Vec<MarketRow>, CoinLoreError> {
        let mut rows: Vec<MarketRow> = Vec::new();
        let mut pacer = Pacer::new(self.coinlore_pace);
        for _ in 0..MAX_COINLORE_PAGES {
            let start = rows.len() as u32;
            if start >= limit {
                break;
            }
            pacer.wait().await;
            let want = (limit - start).min(coinlore::MAX_PER_PAGE);
            let page = self.coinlore.tickers(start, want).await?;
            let short = (page.rows.len() as u32) < want;
            rows.extend(page.rows);
            if short {
                break;
            }
        }
        if rows.is_empty() {
            return Err(CoinLoreError::Unavailable {
                status: 200,
                message: "an empty /tickers/ list".into(),
            });
        }
        Ok(rows)
    }
}

/// Twice the gap between calls the shortest window of `spec` allows (none when unlimited).
fn pace(spec: Option<RateSpec>) -> Duration {
    spec.and_then(|spec| spec.windows().first().copied())
        .map_or(Duration::ZERO, |window| {
            window.period() * 2 / window.limit().max(1)
        })
}

/// Spaces a refresh's calls: the first goes at once, each next one at least the pace after the
/// one before.
struct Pacer {
    pace: Duration,
    last: Option<tokio::time::Instant>,
}

impl Pacer {
    fn new(pace: Duration) -> Self {
        Self { pace, last: None }
    }

    async fn wait(&mut self) {
        if let Some(last) = self.last {
            // A refresh stops here when its worker shuts down, and runs again from the start.
            let until = last + self.pace;
            stoppable::sleep(until.saturating_duration_since(tokio::time::Instant::now())).await;
        }
        self.last = Some(tokio::time::Instant::now());
    }
}

/// Sets the rank and market cap of every coin a row names (by id); coins no row names are
/// unranked. A row without a rank of its own takes its position (rows come largest first).
fn apply_ranks(coins: &mut [CatalogueCoin], rows: &[MarketRow]) {
    // Pages of a moving market are read seconds apart, so a coin that moved across a page edge
    // can come twice (it keeps its first rank) or not at all (it stays unranked until the next
    // refresh): 17 of 5,000 in the simulator with pages 4 s apart.
    let mut by_id: HashMap<&str, (u32, &MarketRow)> = HashMap::with_capacity(rows.len());
    for (position, row) in rows.iter().enumerate() {
        let rank = row.rank.unwrap_or(position as u32 + 1);
        by_id.entry(row.coin_id.as_str()).or_insert((rank, row));
    }
    for coin in coins {
        match by_id.get(coin.id.as_str()) {
            Some((rank, row)) => {
                coin.rank = Some(*rank);
                coin.market_cap_usd = row.market_cap_usd;
            }
            None => {
                coin.rank = None;
                coin.market_cap_usd = None;
            }
        }
    }
}

/// A catalogue from CoinLore's rows alone (no contracts), and how many rows were skipped
/// (an id that cannot be a coin id, or one already seen).
fn from_coinlore(rows: Vec<MarketRow>) -> (Vec<CatalogueCoin>, usize) {
    let mut seen = std::collections::HashSet::new();
    let mut skipped = 0;
    let coins = rows
        .into_iter()
        .enumerate()
        .filter_map(|(position, row)| {
            let id = CoinId::parse(&row.coin_id)
                .ok()
                .filter(|id| seen.insert(id.clone()));
            let Some(id) = id else {
                skipped += 1;
                return None;
            };
            Some(CatalogueCoin {
                id,
                symbol: normalize_symbol(&row.symbol),
                name: row.name,
                rank: Some(row.rank.unwrap_or(position as u32 + 1)),
                market_cap_usd: row.market_cap_usd,
                platforms: Default::default(),
            })
        })
        .collect();
    (coins, skipped)
}

/// Both upstreams failed: transient unless both failures are permanent (CoinGecko refused the
/// key and CoinLore refused too), so a wrong key alone does not stop the catalogue.
fn both_failed(error: &CoinGeckoError, fallback: &CoinLoreError) -> JobError {
    tracing::warn!(error = %fallback, "the coinlore fallback failed too");
    let fallback_may_recover =
        !matches!(fallback, CoinLoreError::Gate(gate) if gate.is_permanent());
    let message = format!("{error}; the coinlore fallback failed too: {fallback}");
    if error.is_transient() || fallback_may_recover {
        JobError::transient(message)
    } else {
        JobError::permanent(message)
    }
}

impl crate::worker::Worker for CatalogueWorker {
    type Job = CatalogueJob;
    const NAME: &'static str = "catalogue-worker";
    const ABOUT: &'static str = "Runs the `catalogue` queue: every listed coin with its rank, symbol, name and contracts (CoinGecko, CoinLore as fallback).";
    const PROVIDERS: &'static [coinbeat_shared::ratelimit::Provider] = &[
        coinbeat_shared::ratelimit::Provider::CoinGecko,
        coinbeat_shared::ratelimit::Provider::CoinLore,
    ];

    async fn build(env: &WorkerEnv) -> anyhow::Result<Self> {
        Self::new(env)
    }

    async fn run(&self, job: CatalogueJob, _ctx: coinbeat_shared::queue::JobContext) -> JobResult {
        self.handle(job).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_is_twice_the_gap_of_the_shortest_window() {
        let spec = |s: &str| Some(RateSpec::parse(s).unwrap());
        assert_eq!(pace(spec("30/min, 10000/month")), Duration::from_secs(4));
        assert_eq!(pace(spec("1/s")), Duration::from_secs(2));
        assert_eq!(pace(spec("off")), Duration::ZERO);
        assert_eq!(pace(None), Duration::ZERO);
    }
}
