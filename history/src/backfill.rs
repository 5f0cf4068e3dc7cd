//! Backfill progress: per coin and asked range, how far the range is stored. A backfill stores
//! each chunk it fetched together with its new progress, in one transaction, so a backfill
//! killed at any point resumes after the last chunk it stored and never fetches that again.

use chrono::{DateTime, Utc};

use crate::{
    HistoryError, HistoryStore, Snapshot, Written,
    snapshots::{check_time, insert},
};

/// Where one backfill stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Everything of the range before this is stored (the range's start when nothing is).
    pub done_until: DateTime<Utc>,
    /// Points stored by it so far.
    pub points: u64,
}

impl HistoryStore {
    /// Where the backfill of `coin_id` over `[from, to]` stands; its start when new.
    pub async fn backfill_progress(
        &self,
        coin_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Progress, HistoryError> {
        self.ready().await?;
        check_time(from)?;
        check_time(to)?;
        let coin = self.coin_numbers(&[coin_id]).await?[coin_id];
        let row: Option<(DateTime<Utc>, i64)> = sqlx::query_as(
            "SELECT done_until, points FROM backfills \
             WHERE coin = $1 AND range_from = $2 AND range_to = $3",
        )
        .bind(coin)
        .bind(from)
        .bind(to)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map_or(
            Progress {
                done_until: from,
                points: 0,
            },
            |(done_until, points)| Progress {
                done_until,
                points: points.max(0) as u64,
            },
        ))
    }

    /// Stores one fetched chunk of the backfill of `coin_id` over `[from, to]` and moves its
    /// progress to `done_until`, both or neither.
    pub async fn store_backfill_chunk(
        &self,
        coin_id: &str,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        snapshots: &[Snapshot],
        done_until: DateTime<Utc>,
    ) -> Result<Written, HistoryError> {
        check_time(done_until)?;
        let prepared = self.prepare(snapshots).await?;
        let coin = self.coin_numbers(&[coin_id]).await?[coin_id];
        let mut tx = self.pool().begin().await?;
        let written = insert(&mut tx, &prepared).await?;
        sqlx::query(
            "INSERT INTO backfills (coin, range_from, range_to, done_until, points, updated_at) \
             VALUES ($1, $2, $3, $4, $5, now()) \
             ON CONFLICT (coin, range_from, range_to) DO UPDATE SET \
               done_until = GREATEST(backfills.done_until, EXCLUDED.done_until), \
               points = backfills.points + EXCLUDED.points, updated_at = now()",
        )
        .bind(coin)
        .bind(from)
        .bind(to)
        .bind(done_until)
        .bind(written.rows as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(written)
    }
}
