//! `GET /v1/prices/{coin}/history?since=&until=&step=`: a coin's price points, from Redis for
//! the recent ones and from PostgreSQL (when `DATABASE_URL` is set) for what lies before them.
//!
//! - `since`, `until`: RFC 3339 (`2024-05-01T12:00:00Z`) or unix seconds (`1714564800`), both
//!   included; `until` defaults to now and `since` to 24 hours before `until`; `until` before
//!   `since` is an empty range (no points). Ranges of years are fine: what Redis no longer holds
//!   comes from PostgreSQL.
//! - `step`: a whole number and a unit, `s`, `m`, `h` or `d` (`30s`, `5m`, `1h`, `1d`): each
//!   step (aligned to the unix epoch, so `1h` steps start on the hour) becomes a candle (open,
//!   high, low, close, computed in PostgreSQL for its part), and `points` holds each step's last
//!   point; without it every stored point is returned.
//! - At most `api.max_history_points` points (or candles): when more match, the newest are
//!   kept and `truncated` is true (ask again with an earlier `until` for the rest).
//!
//! The join: Redis answers for the range from its first point in it on, PostgreSQL for what
//! lies before that point; the two carry the same instant for the same price (when it was
//! fetched), so nothing is counted twice, and a step that straddles the join is one candle.
//! PostgreSQL is asked within `history.timeout_ms`: down, the answer holds Redis's points and
//! says `history_storage: "unavailable"`.
//!
//! Each point is the one the write path stored (`t`, unix ms, and `usd`, the decimal string
//! exactly as stored), with `at`, `t` as RFC 3339. A coin with no stored history in either store
//! is 404 (`not_fetched_yet` or `unknown_symbol`, as `GET /v1/prices/{coin}`); a known coin with
//! no point in the range is 200 with no points.

use std::time::Duration;

use axum::{
    Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use coinbeat_history::{Candle, StoredPoint, candles_of};
use coinbeat_shared::domain::{CoinId, Symbol};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{
    IntoParams, ToSchema,
    openapi::{
        RefOr,
        schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type},
    },
};

use crate::{
    ApiError, AppState,
    routes::prices::{absent, named},
};

/// The range when `since` is not given: this long before `until`.
const DEFAULT_RANGE: TimeDelta = TimeDelta::hours(24);
/// Most points read from Redis for one downsampled answer (the history itself holds
/// `prices.history_points` per symbol, 2,016 by default); past it the oldest are not read and
/// the answer says `truncated`.
const MAX_POINTS_READ: usize = 100_000;
/// The longest `step`.
const MAX_STEP_SECS: u64 = 366 * 24 * 3_600;

/// The query of `GET /v1/prices/{coin}/history`, read as text (see the module's doc).
#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// The first instant, included: RFC 3339 or unix seconds (default: 24 h before `until`).
    #[param(schema_with = instant_schema)]
    since: Option<String>,
    /// The last instant, included: RFC 3339 or unix seconds (default: now); not before `since`.
    #[param(schema_with = instant_schema)]
    until: Option<String>,
    /// Candles (and the last point) per step: a whole number above zero and a unit, `s`, `m`,
    /// `h` or `d` (`30s`, `5m`, `1h`, `1d`), at most 366 days. (The pattern bounds each unit's
    /// count well inside that.)
    #[param(
        value_type = Option<String>,
        pattern = "^(0*[1-9][0-9]{0,6}s|0*[1-9][0-9]{0,4}m|0*[1-9][0-9]{0,2}h|0*[1-9][0-9]?d)$"
    )]
    step: Option<String>,
}

/// What [`parse_instant`] takes: an RFC 3339 time or unix seconds.
pub(crate) fn instant_schema() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9]{1,11}$"))
                .description(Some("unix seconds")),
        )
        .into()
}

/// `GET /v1/prices/{coin}/history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// The coin's symbol, when known.
    symbol: Option<Symbol>,
    coin_id: CoinId,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    /// The step as given, normalised (`5m`), or `null` for every point.
    step: Option<String>,
    step_seconds: Option<u64>,
    count: usize,
    max_points: usize,
    /// True when more points matched than were returned (the newest are returned).
    truncated: bool,
    /// With a step: the last point of each step; without: every point.
    points: Vec<PointView>,
    /// With a step: each step's open, high, low and close (computed in PostgreSQL for its
    /// part of the range); absent without a step.
    #[serde(skip_serializing_if = "Option::is_none")]
    candles: Option<Vec<CandleView>>,
    /// `on`: PostgreSQL answered for the part of the range Redis no longer holds (or was not
    /// needed); `off`: no `DATABASE_URL`, Redis's points only; `unavailable`: PostgreSQL did
    /// not answer, so the answer holds only Redis's points.
    history_storage: HistoryStorage,
    /// How many points each store gave.
    sources: Sources,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum HistoryStorage {
    On,
    Off,
    Unavailable,
}

#[derive(Debug, Serialize, ToSchema)]
struct Sources {
    redis: usize,
    postgres: usize,
}

/// One step of the price.
#[derive(Debug, Serialize, ToSchema)]
struct CandleView {
    /// The step's start, unix ms, and as RFC 3339.
    t: i64,
    at: String,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    /// Points in the step.
    points: u64,
}

impl From<&Candle> for CandleView {
    fn from(c: &Candle) -> Self {
        let t = c.start.timestamp_millis();
        Self {
            t,
            at: rfc3339_ms(t),
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            points: c.points,
        }
    }
}

/// One stored point.
#[derive(Debug, Serialize, ToSchema)]
struct PointView {
    t: i64,
    at: String,
    usd: Decimal,
}

/// A step: its length in seconds and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    secs: u64,
    text: String,
}

pub async fn history(
    State(state): State<AppState>,
    coin: Result<Path<String>, PathRejection>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = coin.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let coin = named(&state, &raw).await?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let now = Utc::now();
    let until = match query.until.as_deref() {
        Some(raw) => parse_instant("until", raw)?,
        None => now,
    };
    let since = match query.since.as_deref() {
        Some(raw) => parse_instant("since", raw)?,
        None => until - DEFAULT_RANGE,
    };
    // An `until` before `since` is an empty range: no point lies in it (the answer echoes
    // both, so the caller sees why).
    let step = query.step.as_deref().map(parse_step).transpose()?;
    let max_points = state.settings().api.max_history_points;
    let read = match step {
        Some(_) => MAX_POINTS_READ,
        None => max_points + 1,
    };
    let recent = state
        .redis(state.cache().history_between(
            &coin.id,
            since.timestamp_millis(),
            until.timestamp_millis(),
            read,
        ))
        .await?;
    let recent_truncated = recent.as_ref().is_some_and(|p| p.len() >= read);
    // PostgreSQL answers for the part of the range before Redis's first point in it.
    let boundary_ms = recent
        .as_ref()
        .and_then(|newest_first| newest_first.last())
        .map_or(until.timestamp_millis().saturating_add(1), |p| p.t);
    let older = if recent_truncated || boundary_ms <= since.timestamp_millis() {
        Older::NotNeeded
    } else {
        older(
            &state,
            &coin.id,
            since,
            boundary_ms - 1,
            step.as_ref(),
            max_points,
        )
        .await
    };
    let storage = older.storage(&state);
    let recent = match (recent, &older) {
        (Some(points), _) => points,
        (None, Older::Points(Some(_)) | Older::Candles(Some(_))) => Vec::new(),
        (None, _) => return Err(absent(&state, &coin)),
    };
    let from_redis = recent.len();
    let mut from_postgres = 0;
    let mut truncated = recent_truncated && step.is_some();
    let (points, candles) = match &step {
        None => {
            // Newest first: Redis's, then PostgreSQL's older ones.
            let mut newest_first: Vec<(i64, Decimal)> =
                recent.into_iter().map(|p| (p.t, p.usd)).collect();
            if let Older::Points(Some(older)) = older {
                from_postgres = older.len();
                newest_first.extend(older.into_iter().map(|p| (p.at.timestamp_millis(), p.usd)));
            }
            if newest_first.len() > max_points {
                newest_first.truncate(max_points);
                truncated = true;
            }
            newest_first.reverse();
            (newest_first, None)
        }
        Some(step) => {
            let timed: Vec<(DateTime<Utc>, Decimal)> = recent
                .iter()
                .filter_map(|p| Some((DateTime::from_timestamp_millis(p.t)?, p.usd)))
                .collect();
            let newer = candles_of(&timed, Duration::from_secs(step.secs));
            let mut candles = match older {
                Older::Candles(Some(older)) => {
                    from_postgres = older.iter().map(|c| c.points as usize).sum();
                    older
                }
                _ => Vec::new(),
            };
            for candle in newer {
                match candles.last_mut() {
                    // The step Redis's first point falls in began in PostgreSQL's part.
                    Some(last) if last.start == candle.start => last.absorb(&candle),
                    _ => candles.push(candle),
                }
            }
            if candles.len() > max_points {
                candles.drain(..candles.len() - max_points);
                truncated = true;
            }
            let points = candles
                .iter()
                .map(|c| (c.close_at.timestamp_millis(), c.close))
                .collect();
            (points, Some(candles.iter().map(CandleView::from).collect()))
        }
    };
    let points: Vec<PointView> = points
        .into_iter()
        .map(|(t, usd)| PointView {
            t,
            at: rfc3339_ms(t),
            usd,
        })
        .collect();
    Ok(Json(HistoryResponse {
        symbol: coin.symbol,
        coin_id: coin.id,
        since,
        until,
        step_seconds: step.as_ref().map(|s| s.secs),
        step: step.map(|s| s.text),
        count: points.len(),
        max_points,
        truncated,
        points,
        candles,
        history_storage: storage,
        sources: Sources {
            redis: from_redis,
            postgres: from_postgres,
        },
    })
    .into_response())
}

/// What PostgreSQL gave for the part of the range before Redis's points.
enum Older {
    /// History storage is off.
    Off,
    /// Redis covers the range (or truncated it already): not asked.
    NotNeeded,
    /// It did not answer within `history.timeout_ms`, or failed.
    Unavailable,
    /// Its points, newest first; `None` when it has none of this coin.
    Points(Option<Vec<StoredPoint>>),
    /// Its candles, oldest first; `None` when it has none of this coin.
    Candles(Option<Vec<Candle>>),
}

impl Older {
    fn storage(&self, state: &AppState) -> HistoryStorage {
        match self {
            Older::Off => HistoryStorage::Off,
            Older::NotNeeded if state.history().is_none() => HistoryStorage::Off,
            Older::Unavailable => HistoryStorage::Unavailable,
            _ => HistoryStorage::On,
        }
    }
}

/// Reads PostgreSQL's points (or candles, with a step) of `[since, until_ms]`, bounded by
/// `history.timeout_ms`: a PostgreSQL down costs an answer that long, and the answer then says
/// what Redis holds, marked.
async fn older(
    state: &AppState,
    coin: &CoinId,
    since: DateTime<Utc>,
    until_ms: i64,
    step: Option<&Step>,
    max_points: usize,
) -> Older {
    let Some(store) = state.history() else {
        return Older::Off;
    };
    let Some(until) = DateTime::from_timestamp_millis(until_ms) else {
        return Older::NotNeeded;
    };
    let read = async {
        Ok::<_, coinbeat_history::HistoryError>(match step {
            None => Older::Points(
                store
                    .points(coin.as_str(), since, until, max_points)
                    .await?,
            ),
            Some(step) => Older::Candles(
                store
                    .candles(
                        coin.as_str(),
                        since,
                        until,
                        Duration::from_secs(step.secs),
                        max_points,
                    )
                    .await?,
            ),
        })
    };
    match tokio::time::timeout(state.settings().history.timeout(), read).await {
        Ok(Ok(older)) => older,
        Ok(Err(error)) => {
            tracing::warn!(%error, "history: PostgreSQL failed; answering from Redis alone");
            Older::Unavailable
        }
        Err(_) => {
            tracing::warn!(
                "history: PostgreSQL did not answer in time; answering from Redis alone"
            );
            Older::Unavailable
        }
    }
}

fn rfc3339_ms(t: i64) -> String {
    DateTime::from_timestamp_millis(t)
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// RFC 3339 or unix seconds. A `+` of an offset that arrived as a space (a query string's `+`
/// means space) is read as `+`.
pub(crate) fn parse_instant(name: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let raw = raw.trim();
    let invalid = |why: &str| {
        ApiError::InvalidQuery(format!(
            "{name} must be an RFC 3339 time (2024-05-01T12:00:00Z) or unix seconds, got \
             {raw:?}{why}"
        ))
    };
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| invalid(": out of range"));
    }
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_rfc3339(&raw.replace(' ', "+")))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(""))
}

/// `30s`, `5m`, `1h`, `1d`: a whole number above zero and a unit.
fn parse_step(raw: &str) -> Result<Step, ApiError> {
    let invalid = || {
        ApiError::InvalidQuery(format!(
            "step must be a whole number above zero and a unit, s, m, h or d (30s, 5m, 1h, 1d), \
             at most 366d, got {raw:?}"
        ))
    };
    let trimmed = raw.trim();
    let unit = trimmed.chars().last().ok_or_else(invalid)?;
    let per_unit: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(invalid()),
    };
    let digits = &trimmed[..trimmed.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let count: u64 = digits.parse().map_err(|_| invalid())?;
    let secs = count.checked_mul(per_unit).ok_or_else(invalid)?;
    if secs == 0 || secs > MAX_STEP_SECS {
        return Err(invalid());
    }
    Ok(Step {
        secs,
        text: format!("{count}{unit}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_a_whole_number_and_a_unit() {
        assert_eq!(parse_step("5m").unwrap().secs, 300);
        assert_eq!(parse_step("1h").unwrap().secs, 3_600);
        assert_eq!(parse_step("30s").unwrap().secs, 30);
        assert_eq!(parse_step("2d").unwrap().secs, 172_800);
        assert_eq!(parse_step("05m").unwrap().text, "5m");
        for bad in [
            "",
            "m",
            "0m",
            "5",
            "5x",
            "-5m",
            "1.5h",
            "367d",
            "99999999999999999999d",
        ] {
            assert!(
                matches!(parse_step(bad), Err(ApiError::InvalidQuery(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn instants_are_rfc3339_or_unix_seconds() {
        let t = DateTime::from_timestamp(1_714_564_800, 0).unwrap();
        assert_eq!(parse_instant("since", "1714564800").unwrap(), t);
        assert_eq!(parse_instant("since", "2024-05-01T12:00:00Z").unwrap(), t);
        assert_eq!(
            parse_instant("since", "2024-05-01T14:00:00 02:00").unwrap(),
            t,
            "a `+` decoded as a space"
        );
        for bad in ["", "yesterday", "2024-05-01", "-5", "1714564800.5"] {
            assert!(
                matches!(parse_instant("since", bad), Err(ApiError::InvalidQuery(_))),
                "{bad:?}"
            );
        }
    }
}
