//! The `history` queue: history that lasts, in PostgreSQL (`coinbeat_history`).
//!
//! A snapshot job (`{"snapshot": {"set": "tracked"}}`) stores the cached price of every coin of
//! its set as one snapshot at the instant it was fetched (the instant Redis's history point of
//! it carries), with the catalogue's metadata of each
//! coin. It calls no upstream: the price workers and the stream keep the cache, this stores what
//! they found. A snapshot is keyed by coin and instant, so a re-delivered job, or two snapshots
//! of a price that did not change, store it once.
//!
//! Each snapshot also stores what Redis's history holds of its coins from the last
//! `history.catch_up_secs`: a price that came while PostgreSQL was down (or between two
//! snapshots) is stored once it is back, and one stored already is skipped.
//!
//! Sets: `tracked` (the tracked coins), `ranked` (every catalogued coin with a rank) or a
//! `[prices.tiers]` tier; `[history.snapshots]` schedules each.
//!
//! A backfill job (`{"backfill": {"coin": "bitcoin", "from": "…", "to": "…"}}`) fetches one
//! coin's past over one range from CoinGecko's `/coins/{id}/market_chart/range`, through the
//! shared CoinGecko limiter like every other call, in chunks of [`BACKFILL_CHUNK`] (hourly
//! points); each chunk is stored together with the backfill's progress in one transaction, so a
//! backfill stopped anywhere (a killed worker, a retry) resumes after its last stored chunk and
//! never fetches it again. One task per coin and range.
//!
//! PostgreSQL unreachable fails the job as transient (it retries with the queue's backoff);
//! without `DATABASE_URL` the worker runs idle and refuses history jobs (permanent).

use std::{collections::HashSet, sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound, Utc};
use coinbeat_history::{CoinMeta, HistoryError, HistoryStore, Snapshot};
use coinbeat_shared::{
    cache::PriceCache,
    catalogue::{Catalogue, CatalogueCache, CatalogueStore},
    domain::CoinId,
    jobs::{BackfillJob, HistoryJob, SnapshotJob},
    keys::Keys,
    queue::{JobContext, JobError, JobResult},
    settings::{CATCH_UP_POINTS, PricesSettings, RANKED, TRACKED},
};
use redis::aio::ConnectionManager;
use serde_json::json;

use crate::{boot::WorkerEnv, coingecko::CoinGecko};

/// How often the catalogue copy is checked for a newer refresh.
const CATALOGUE_RECHECK: Duration = Duration::from_secs(30);

/// Price records read from the cache per round trip.
const READ_BATCH: usize = 1_000;

/// The longest range one backfill request asks: CoinGecko answers hourly points for 2 to 90
/// days.
pub const BACKFILL_CHUNK: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// The `source` of snapshots read back from Redis's history (the record's own source is not
/// kept with a history point).
pub const HISTORY_SOURCE: &str = "redis-history";

/// The `source` of backfilled snapshots.
pub const BACKFILL_SOURCE: &str = "coingecko-history";

/// Handles `history` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HistoryWorker {
    /// `None` when history storage is off.
    store: Option<HistoryStore>,
    coingecko: CoinGecko,
    cache: PriceCache,
    catalogue: Arc<CatalogueCache>,
    prices: PricesSettings,
    /// How far back a snapshot reads Redis's history (`history.catch_up_secs`).
    catch_up: chrono::TimeDelta,
    conn: ConnectionManager,
    keys: Keys,
}

/// A store failure as a job's: transient when retrying may help.
fn job_error(context: &str, error: HistoryError) -> JobError {
    let message = format!("{context}: {error}");
    if error.is_transient() {
        JobError::transient(message)
    } else {
        JobError::permanent(message)
    }
}

impl HistoryWorker {
    pub async fn new(env: &WorkerEnv) -> anyhow::Result<Self> {
        let settings = &env.settings;
        let store = HistoryStore::from_settings(&settings.history)?;
        match &store {
            // Migrations at start when PostgreSQL is up; otherwise before the first job.
            Some(store) => {
                if let Err(error) = store.ready().await {
                    tracing::warn!(%error, "PostgreSQL not ready; the first job will try again");
                }
            }
            None => tracing::info!("history storage is off (no DATABASE_URL): history jobs are refused"),
        }
        Ok(Self {
            store,
            coingecko: CoinGecko::new(env)?,
            cache: PriceCache::new(env.conn.clone(), env.keys.clone(), &settings.prices),
            catalogue: Arc::new(CatalogueCache::new(
                CatalogueStore::new(env.conn.clone(), env.keys.clone()),
                settings.prices.coins.clone(),
                CATALOGUE_RECHECK,
            )),
            prices: settings.prices.clone(),
            catch_up: chrono::TimeDelta::seconds(
                settings.history.catch_up_secs.min(i64::MAX as u64) as i64,
            ),
            conn: env.conn.clone(),
            keys: env.keys.clone(),
        })
    }

    pub async fn handle(&self, job: HistoryJob) -> JobResult {
        let Some(store) = &self.store else {
            return Err(JobError::permanent(
                "history storage is off: set DATABASE_URL (or history.database_url)",
            ));
        };
        match job {
            HistoryJob::Snapshot(snapshot) => self.snapshot(store, snapshot).await,
            HistoryJob::Backfill(backfill) => self.backfill(store, backfill).await,
        }
    }

    async fn backfill(&self, store: &HistoryStore, job: BackfillJob) -> JobResult {
        let coin = job.coin.as_str();
        let range = (job.from, job.to);
        let progress = store
            .backfill_progress(coin, job.from, job.to)
            .await
            .map_err(|e| job_error("reading the backfill's progress", e))?;
        let resumed_from = progress.done_until;
        let mut at = progress.done_until;
        let (mut requests, mut points) = (0_u64, progress.points);
        while at <= job.to {
            let end = (at + BACKFILL_CHUNK - chrono::TimeDelta::seconds(1)).min(job.to);
            let chart = self
                .coingecko
                .market_chart_range(&job.coin, at, end)
                .await?;
            requests += 1;
            let snapshots: Vec<Snapshot> = chart
                .into_iter()
                .filter(|p| (at..=end).contains(&p.at))
                .map(|p| Snapshot {
                    coin_id: coin.to_owned(),
                    at: p.at,
                    usd: p.usd,
                    market_cap_usd: p.market_cap_usd,
                    volume_24h_usd: p.volume_24h_usd,
                    source: BACKFILL_SOURCE.to_owned(),
                })
                .collect();
            let next = end + chrono::TimeDelta::seconds(1);
            let written = store
                .store_backfill_chunk(coin, range, &snapshots, next)
                .await
                .map_err(|e| job_error("storing a backfilled chunk", e))?;
            points += written.rows;
            at = next;
        }
        Ok(Some(json!({
            "coin": coin,
            "from": job.from,
            "to": job.to,
            "resumed_from": resumed_from,
            "requests": requests,
            "points": points,
        })))
    }

    async fn snapshot(&self, store: &HistoryStore, job: SnapshotJob) -> JobResult {
        let catalogue = self
            .catalogue
            .get()
            .await
            .map_err(|e| JobError::transient(format!("reading the coin catalogue: {e}")))?;
        let coins = self.members(&catalogue, &job.set).await?;
        let mut snapshots = Vec::new();
        for chunk in coins.chunks(READ_BATCH) {
            let records = self
                .cache
                .get_many(chunk)
                .await
                .map_err(|e| JobError::transient(format!("reading the cached prices: {e}")))?;
            snapshots.extend(records.into_iter().flatten().map(|r| Snapshot {
                coin_id: r.coin_id.to_string(),
                // The instant Redis's history point of this record carries (when it was
                // fetched), to the millisecond as Redis keeps it: the two stores agree on
                // every point, and the API joins them without a seam.
                at: r.fetched_at.trunc_subsecs(3),
                usd: r.usd,
                market_cap_usd: r.market_cap_usd,
                volume_24h_usd: r.volume_24h_usd,
                source: r.source,
            }));
        }
        let priced = snapshots.len();
        let caught_up = self.catch_up(&coins, &mut snapshots).await?;
        let (source, refreshed_at) = catalogue
            .meta
            .as_ref()
            .map(|m| (Some(m.source.clone()), Some(m.refreshed_at)))
            .unwrap_or_default();
        let metadata: Vec<CoinMeta> = coins
            .iter()
            .filter_map(|id| catalogue.index.get(id))
            .map(|coin| CoinMeta {
                coin_id: coin.id.to_string(),
                symbol: Some(coin.symbol.clone()),
                name: Some(coin.name.clone()),
                rank: coin.rank,
                market_cap_usd: coin.market_cap_usd,
                platforms: coin.platforms.clone(),
                source: source.clone(),
                updated_at: refreshed_at,
            })
            .collect();
        let metadata_written = store
            .write_coins(&metadata)
            .await
            .map_err(|e| job_error("storing coin metadata", e))?;
        let written = store
            .write_snapshots(&snapshots)
            .await
            .map_err(|e| job_error("storing snapshots", e))?;
        Ok(Some(json!({
            "set": job.set,
            "coins": coins.len(),
            "priced": priced,
            "history_points_read": caught_up,
            "rows": written.rows,
            "already_stored": written.already_stored,
            "metadata_written": metadata_written,
        })))
    }

    /// Adds the points Redis's history holds for `coins` from `history.catch_up_secs` ago (the
    /// ones already stored are skipped by the write): what came while PostgreSQL was down, or
    /// between two snapshots. Returns how many were read.
    async fn catch_up(
        &self,
        coins: &[CoinId],
        snapshots: &mut Vec<Snapshot>,
    ) -> Result<usize, JobError> {
        if self.catch_up.is_zero() {
            return Ok(0);
        }
        let now = Utc::now();
        let since = (now - self.catch_up).timestamp_millis();
        let mut read = 0;
        for chunk in coins.chunks(READ_BATCH) {
            let reads = chunk.iter().map(|coin| async move {
                let points = self
                    .cache
                    .history_between(coin, since, now.timestamp_millis(), CATCH_UP_POINTS)
                    .await?;
                Ok::<_, coinbeat_shared::cache::CacheError>((coin, points.unwrap_or_default()))
            });
            let histories = futures::future::try_join_all(reads)
                .await
                .map_err(|e| JobError::transient(format!("reading the price history: {e}")))?;
            for (coin, points) in histories {
                read += points.len();
                snapshots.extend(points.into_iter().filter_map(|p| {
                    Some(Snapshot {
                        coin_id: coin.to_string(),
                        at: DateTime::from_timestamp_millis(p.t)?,
                        usd: p.usd,
                        market_cap_usd: None,
                        volume_24h_usd: None,
                        source: HISTORY_SOURCE.to_owned(),
                    })
                }));
            }
        }
        Ok(read)
    }

    /// The coins of a snapshot set, each once.
    async fn members(&self, catalogue: &Catalogue, set: &str) -> Result<Vec<CoinId>, JobError> {
        let mut seen = HashSet::new();
        let ids: Vec<CoinId> = match set {
            TRACKED => {
                let symbols =
                    coinbeat_shared::tracked_symbols::load(&self.conn, &self.keys, &self.prices)
                        .await
                        .map_err(|e| JobError::transient(format!("reading the tracked set: {e}")))?;
                symbols
                    .iter()
                    .filter_map(|s| Some(catalogue.name_symbol(&self.prices, s)?.id))
                    .collect()
            }
            RANKED => catalogue
                .index
                .ranked()
                .iter()
                .map(|c| c.id.clone())
                .collect(),
            tier => {
                let Some(tier) = self.prices.tiers.get(tier) else {
                    return Err(JobError::permanent(format!(
                        "no set of coins is named {tier:?}: use {TRACKED}, {RANKED} or a \
                         [prices.tiers] tier"
                    )));
                };
                catalogue
                    .index
                    .ranked()
                    .iter()
                    .filter(|c| tier.holds(c.rank))
                    .map(|c| c.id.clone())
                    .collect()
            }
        };
        Ok(ids.into_iter().filter(|id| seen.insert(id.clone())).collect())
    }
}

impl crate::worker::Worker for HistoryWorker {
    type Job = HistoryJob;
    const NAME: &'static str = "history-worker";
    const ABOUT: &'static str = "Runs the `history` queue: price snapshots and coin metadata into PostgreSQL (DATABASE_URL), for history that lasts, and backfills of past prices from CoinGecko.";
    const PROVIDERS: &'static [coinbeat_shared::ratelimit::Provider] =
        &[coinbeat_shared::ratelimit::Provider::CoinGecko];

    async fn build(env: &WorkerEnv) -> anyhow::Result<Self> {
        Self::new(env).await
    }

    async fn run(&self, job: HistoryJob, _ctx: JobContext) -> JobResult {
        self.handle(job).await
    }
}
