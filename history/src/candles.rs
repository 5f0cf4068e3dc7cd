//! OHLC candles computed in PostgreSQL from the stored snapshots.
//!
//! Buckets are `step` long and aligned to the unix epoch (`date_bin`), as the API's Redis
//! downsampling aligns them, so `1h` candles start on the hour and `1d` candles at 00:00 UTC.
//! Each candle's open is its earliest point, close its latest, high and low the extremes, and
//! `points` how many snapshots it was made of; a step with no snapshot has no candle.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::{HistoryError, HistoryStore};

/// One step of a coin's price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candle {
    /// The step's first instant.
    pub start: DateTime<Utc>,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    /// Snapshots in the step.
    pub points: u64,
}

impl HistoryStore {
    /// The candles of `coin_id` over `[since, until]`, oldest first, at most `limit` (the newest
    /// when more): `None` when the coin has no snapshot at all.
    pub async fn candles(
        &self,
        coin_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        step: Duration,
        limit: usize,
    ) -> Result<Option<Vec<Candle>>, HistoryError> {
        let Some(coin) = self.coin_number(coin_id).await? else {
            return Ok(None);
        };
        let step_secs = step.as_secs().max(1) as f64;
        let rows: Vec<(DateTime<Utc>, Decimal, Decimal, Decimal, Decimal, i64)> = sqlx::query_as(
            "SELECT * FROM ( \
               SELECT date_bin(make_interval(secs => $2), at, 'epoch'::timestamptz) AS start, \
                      (array_agg(usd ORDER BY at))[1] AS open, \
                      max(usd) AS high, min(usd) AS low, \
                      (array_agg(usd ORDER BY at DESC))[1] AS close, \
                      count(*) AS points \
               FROM price_snapshots \
               WHERE coin = $1 AND at >= $3 AND at <= $4 \
               GROUP BY 1 ORDER BY 1 DESC LIMIT $5 \
             ) newest ORDER BY start",
        )
        .bind(coin)
        .bind(step_secs)
        .bind(since)
        .bind(until)
        .bind(limit.min(i64::MAX as usize) as i64)
        .fetch_all(self.pool())
        .await?;
        Ok(Some(
            rows.into_iter()
                .map(|(start, open, high, low, close, points)| Candle {
                    start,
                    open,
                    high,
                    low,
                    close,
                    points: points as u64,
                })
                .collect(),
        ))
    }
}
