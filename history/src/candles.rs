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
    /// When the close was: the step's last point.
    pub close_at: DateTime<Utc>,
    /// Snapshots in the step.
    pub points: u64,
}

impl Candle {
    /// Adds the points of `later`, a candle of the same step made of later points: the open
    /// stays, the close is `later`'s.
    pub fn absorb(&mut self, later: &Candle) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.close_at = later.close_at;
        self.points += later.points;
    }
}

/// The candles of `points` by the same rule as [`HistoryStore::candles`] (epoch-aligned
/// steps, open the earliest point, close the latest), for points that are not in PostgreSQL
/// (Redis's recent ones). Oldest first.
pub fn candles_of(points: &[(DateTime<Utc>, Decimal)], step: Duration) -> Vec<Candle> {
    let step_ms = (step.as_millis().max(1)).min(i64::MAX as u128) as i64;
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|(at, _)| *at);
    let mut out: Vec<Candle> = Vec::new();
    for (at, usd) in sorted {
        let start_ms = at.timestamp_millis().div_euclid(step_ms) * step_ms;
        let point = Candle {
            start: DateTime::from_timestamp_millis(start_ms).unwrap_or_default(),
            open: usd,
            high: usd,
            low: usd,
            close: usd,
            close_at: at,
            points: 1,
        };
        match out.last_mut() {
            Some(last) if last.start == point.start => last.absorb(&point),
            _ => out.push(point),
        }
    }
    out
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
        type Row = (
            DateTime<Utc>,
            Decimal,
            Decimal,
            Decimal,
            Decimal,
            DateTime<Utc>,
            i64,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT * FROM ( \
               SELECT date_bin(make_interval(secs => $2), at, 'epoch'::timestamptz) AS start, \
                      (array_agg(usd ORDER BY at))[1] AS open, \
                      max(usd) AS high, min(usd) AS low, \
                      (array_agg(usd ORDER BY at DESC))[1] AS close, \
                      max(at) AS close_at, \
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
                .map(|(start, open, high, low, close, close_at, points)| Candle {
                    start,
                    open,
                    high,
                    low,
                    close,
                    close_at,
                    points: points as u64,
                })
                .collect(),
        ))
    }
}
