//! `GET /v1/prices/{coin}/history?since=&until=&step=`: a symbol's stored price points.
//!
//! - `since`, `until`: RFC 3339 (`2024-05-01T12:00:00Z`) or unix seconds (`1714564800`), both
//!   included; `until` defaults to now and `since` to 24 hours before `until`; `until` before
//!   `since` is an empty range (no points).
//! - `step`: a whole number and a unit, `s`, `m`, `h` or `d` (`30s`, `5m`, `1h`, `1d`): the
//!   points are downsampled to the last point of each step bucket (buckets aligned to the unix
//!   epoch, so `1h` buckets start on the hour); without it every stored point is returned.
//! - At most `api.max_history_points` points: when more match, the newest are kept and
//!   `truncated` is true (ask again with an earlier `until` for the rest). `max_points` says the
//!   bound in every response.
//!
//! Each point is the one the write path stored (`t`, unix ms, and `usd`, the decimal string
//! exactly as stored), with `at`, `t` as RFC 3339. A symbol with no stored history is 404
//! (`not_fetched_yet` or `unknown_symbol`, as `GET /v1/prices/{coin}`); a known symbol with no
//! point in the range is 200 with no points.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use coinbeat_shared::{
    cache::HistoryPoint,
    domain::{CoinId, Symbol},
};
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
    /// Keep the last point per step: a whole number above zero and a unit, `s`, `m`, `h` or
    /// `d` (`30s`, `5m`, `1h`, `1d`), at most 366 days. (The pattern bounds each unit's count
    /// well inside that.)
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
    points: Vec<PointView>,
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
    let newest_first = state
        .redis(state.cache().history_between(
            &coin.id,
            since.timestamp_millis(),
            until.timestamp_millis(),
            read,
        ))
        .await?
        .ok_or_else(|| absent(&state, &coin))?;
    let mut truncated = newest_first.len() >= read && step.is_some();
    let mut points: Vec<HistoryPoint> = newest_first.into_iter().rev().collect();
    if let Some(step) = &step {
        points = downsample(points, step.secs as i64 * 1_000);
    }
    if points.len() > max_points {
        points.drain(..points.len() - max_points);
        truncated = true;
    }
    let points: Vec<PointView> = points
        .into_iter()
        .map(|p| PointView {
            t: p.t,
            at: DateTime::from_timestamp_millis(p.t)
                .map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true))
                .unwrap_or_default(),
            usd: p.usd,
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
    })
    .into_response())
}

/// The last point of each `step_ms` bucket (aligned to the epoch) of `points`, oldest first.
fn downsample(points: Vec<HistoryPoint>, step_ms: i64) -> Vec<HistoryPoint> {
    let mut out: Vec<HistoryPoint> = Vec::new();
    for point in points {
        match out.last_mut() {
            Some(last) if last.t.div_euclid(step_ms) == point.t.div_euclid(step_ms) => {
                *last = point;
            }
            _ => out.push(point),
        }
    }
    out
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

    #[test]
    fn downsampling_keeps_the_last_point_of_each_bucket() {
        let p = |t: i64, usd: &str| HistoryPoint {
            t,
            usd: usd.parse().unwrap(),
        };
        let points = vec![p(0, "1"), p(59_999, "2"), p(60_000, "3"), p(179_000, "4")];
        let out = downsample(points, 60_000);
        assert_eq!(out, vec![p(59_999, "2"), p(60_000, "3"), p(179_000, "4")]);
    }
}
