//! Price snapshots: written in batches, each row at most once.
//!
//! A snapshot is keyed by its coin and the moment the price is of, so writing the same
//! snapshot again (a re-delivered job, a backfill page fetched twice) adds nothing: the batch
//! is one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING` per [`BATCH_ROWS`] rows, and
//! what it skipped is counted, not failed.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::{HistoryError, HistoryStore};

/// Rows per INSERT statement: one statement's arrays, well inside PostgreSQL's limits, and few
/// enough statements for a year of minute points (525,600 rows, 53 statements).
pub const BATCH_ROWS: usize = 10_000;

/// One price of one coin at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The coin's id (CoinGecko's, `bitcoin`).
    pub coin_id: String,
    /// The instant of the price: when it was fetched (the instant Redis's history point
    /// carries), or the upstream's time for a backfilled point.
    pub at: DateTime<Utc>,
    pub usd: Decimal,
    pub market_cap_usd: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
    /// Where it came from (`coingecko`, `binance-ws`, `coingecko-backfill`).
    pub source: String,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Written {
    /// Rows added.
    pub rows: u64,
    /// Snapshots already stored (same coin, same moment), left as they were.
    pub already_stored: u64,
}

/// One stored point.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPoint {
    pub at: DateTime<Utc>,
    pub usd: Decimal,
}

impl HistoryStore {
    /// Stores `snapshots`, skipping those already stored.
    pub async fn write_snapshots(&self, snapshots: &[Snapshot]) -> Result<Written, HistoryError> {
        if snapshots.is_empty() {
            return Ok(Written::default());
        }
        let rows = self.prepare(snapshots).await?;
        let mut conn = self.pool().acquire().await?;
        insert(&mut conn, &rows).await
    }

    /// Checks `snapshots`, gives their coins and sources their numbers and makes their months'
    /// partitions: what must be true before they are inserted.
    pub(crate) async fn prepare<'a>(
        &self,
        snapshots: &'a [Snapshot],
    ) -> Result<Prepared<'a>, HistoryError> {
        self.ready().await?;
        for s in snapshots {
            check_time(s.at)?;
        }
        let ids: Vec<&str> = snapshots.iter().map(|s| s.coin_id.as_str()).collect();
        let coins = self.coin_numbers(&ids).await?;
        let mut sources = std::collections::HashMap::new();
        for s in snapshots {
            if !sources.contains_key(s.source.as_str()) {
                sources.insert(s.source.clone(), self.source_number(&s.source).await?);
            }
        }
        self.ensure_months(snapshots.iter().map(|s| s.at)).await?;
        Ok(Prepared {
            snapshots,
            coins,
            sources,
        })
    }

    /// A coin's stored points in `[since, until]`, newest first, at most `limit`; `None` when
    /// the coin has none at all.
    pub async fn points(
        &self,
        coin_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<Vec<StoredPoint>>, HistoryError> {
        let Some(coin) = self.coin_number(coin_id).await? else {
            return Ok(None);
        };
        let rows: Vec<(DateTime<Utc>, Decimal)> = sqlx::query_as(
            "SELECT at, usd FROM price_snapshots WHERE coin = $1 AND at >= $2 AND at <= $3 \
             ORDER BY at DESC LIMIT $4",
        )
        .bind(coin)
        .bind(since)
        .bind(until)
        .bind(limit.min(i64::MAX as usize) as i64)
        .fetch_all(self.pool())
        .await?;
        Ok(Some(
            rows.into_iter()
                .map(|(at, usd)| StoredPoint { at, usd })
                .collect(),
        ))
    }

    /// How many snapshots a coin has in `[since, until]`.
    pub async fn count(
        &self,
        coin_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<u64, HistoryError> {
        let Some(coin) = self.coin_number(coin_id).await? else {
            return Ok(0);
        };
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM price_snapshots WHERE coin = $1 AND at >= $2 AND at <= $3",
        )
        .bind(coin)
        .bind(since)
        .bind(until)
        .fetch_one(self.pool())
        .await?;
        Ok(n as u64)
    }
}

/// Snapshots ready to insert: their coins' and sources' numbers known, their months made.
pub(crate) struct Prepared<'a> {
    snapshots: &'a [Snapshot],
    coins: std::collections::HashMap<String, i32>,
    sources: std::collections::HashMap<String, i16>,
}

/// Inserts prepared snapshots on `conn` (a transaction's, or the pool's), [`BATCH_ROWS`] a
/// statement, skipping those already stored.
pub(crate) async fn insert(
    conn: &mut sqlx::PgConnection,
    prepared: &Prepared<'_>,
) -> Result<Written, HistoryError> {
    let mut written = Written::default();
    for batch in prepared.snapshots.chunks(BATCH_ROWS) {
        let mut at = Vec::with_capacity(batch.len());
        let mut coin = Vec::with_capacity(batch.len());
        let mut source = Vec::with_capacity(batch.len());
        let mut usd = Vec::with_capacity(batch.len());
        let mut cap = Vec::with_capacity(batch.len());
        let mut volume = Vec::with_capacity(batch.len());
        for s in batch {
            at.push(s.at);
            coin.push(prepared.coins[s.coin_id.as_str()]);
            source.push(prepared.sources[s.source.as_str()]);
            usd.push(s.usd);
            cap.push(s.market_cap_usd);
            volume.push(s.volume_24h_usd);
        }
        let rows = sqlx::query(
            "INSERT INTO price_snapshots (at, coin, source, usd, market_cap_usd, volume_24h_usd) \
             SELECT * FROM unnest($1::timestamptz[], $2::int4[], $3::int2[], $4::numeric[], \
                                  $5::numeric[], $6::numeric[]) \
             ON CONFLICT (coin, at) DO NOTHING",
        )
        .bind(&at)
        .bind(&coin)
        .bind(&source)
        .bind(&usd)
        .bind(&cap)
        .bind(&volume)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        written.rows += rows;
        written.already_stored += batch.len() as u64 - rows;
    }
    Ok(written)
}

/// PostgreSQL's `timestamptz` holds 4713 BC to 294276 AD; chrono holds more. Anything before
/// 2000 or past 9999 is a bug or a bogus upstream time for a crypto price.
pub(crate) fn check_time(at: DateTime<Utc>) -> Result<(), HistoryError> {
    use chrono::Datelike;
    if (2000..=9999).contains(&at.year()) {
        Ok(())
    } else {
        Err(HistoryError::Invalid(format!(
            "{at} is outside the years 2000 to 9999 a price snapshot may be of"
        )))
    }
}
