//! `GET /coins/{id}/market_chart/range?vs_currency=usd&from=&to=`: a coin's past prices, market
//! caps and 24h volumes between two instants (unix seconds, or `YYYY-MM-DD`), as
//! `{"prices": [[ms, price], …], "market_caps": […], "total_volumes": […]}`.
//!
//! Granularity as CoinGecko's own when no `interval` is given: the last day gets 5-minute
//! points, any other range up to 90 days hourly points, longer daily points at 00:00 UTC;
//! `interval=hourly` (up to 100 days) and `interval=daily` override it. The past is a pure
//! function of (seed, coin, instant), around the coin's price now: the same range asked twice
//! answers the same points, so a resumed backfill finds what it would have found. Unknown and
//! unlisted ids answer 404 `{"error":"coin not found"}`; a range that does not parse, or ends
//! before it starts, 400.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::responses;
use crate::number::{Precision, significant};
use crate::rng;
use crate::state::SimState;

const FIVE_MINUTES: i64 = 300;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// The longest range `interval=hourly` serves, as CoinGecko documents.
const MAX_HOURLY_DAYS: i64 = 100;
/// The random stream of past prices (apart from the walk's counters).
const PAST: u64 = u64::MAX / 3;

#[derive(Debug, Deserialize)]
pub(super) struct RangeQuery {
    vs_currency: Option<String>,
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
    precision: Option<String>,
}

pub(super) async fn range(
    State(state): State<Arc<SimState>>,
    Path(id): Path<String>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return responses::bad_request("Invalid query");
    };
    if query.vs_currency.as_deref().map(str::trim) != Some("usd") {
        return responses::bad_request("invalid vs_currency");
    }
    let (Some(from), Some(to)) = (instant(&query.from), instant(&query.to)) else {
        return responses::bad_request("Missing or invalid parameter from or to");
    };
    if to < from {
        return responses::bad_request("to must be later than from");
    }
    let step = match query.interval.as_deref().map(str::trim) {
        Some("daily") => DAY,
        Some("hourly") if to - from <= MAX_HOURLY_DAYS * DAY => HOUR,
        Some("hourly") => {
            return responses::bad_request("hourly data is limited to 100 days per request");
        }
        Some(_) => return responses::bad_request("invalid interval"),
        // 5-minute points only for the last day; a day elsewhere is hourly.
        None if to - from <= DAY && now_unix_secs() - to < DAY => FIVE_MINUTES,
        None if to - from <= 90 * DAY => HOUR,
        None => DAY,
    };
    let Some(quote) = state.market.quotes().get(&id) else {
        return responses::coin_not_found();
    };
    let precision = Precision::parse(query.precision.as_deref());
    let supply = quote.circulating_supply;
    let mut prices = Vec::new();
    let mut caps = Vec::new();
    let mut volumes = Vec::new();
    let mut t = from.div_euclid(step) * step;
    if t < from {
        t += step;
    }
    while t <= to {
        let price = past_price(state.seed, quote.index, quote.price_usd, t);
        let volume =
            price * supply * (0.02 + 0.02 * rng::unit(state.seed, quote.index, PAST ^ t as u64));
        let ms = t * 1_000;
        prices.push(format!("[{ms},{}]", precision.price(price)));
        caps.push(format!("[{ms},{}]", significant(price * supply, 15)));
        volumes.push(format!("[{ms},{}]", significant(volume, 15)));
        t += step;
    }
    responses::ok(format!(
        r#"{{"prices":[{}],"market_caps":[{}],"total_volumes":[{}]}}"#,
        prices.join(","),
        caps.join(","),
        volumes.join(",")
    ))
}

fn now_unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Unix seconds, or a `YYYY-MM-DD` day (00:00 UTC), as CoinGecko accepts.
fn instant(raw: &Option<String>) -> Option<i64> {
    let raw = raw.as_deref()?.trim();
    if let Ok(secs) = raw.parse::<i64>() {
        return Some(secs);
    }
    let mut parts = raw.splitn(3, '-').map(str::parse::<i64>);
    let (y, m, d) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * DAY)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The coin's price at unix second `t`: within a few tens of percent of its price now, moving
/// in slow waves (a quarter, a week, a day) with a little noise, the same for every request.
fn past_price(seed: u64, coin: u64, now_usd: f64, t: i64) -> f64 {
    let phase = |k: u64| std::f64::consts::TAU * rng::unit(seed, coin, PAST ^ k);
    let wave =
        |period: i64, k: u64| (std::f64::consts::TAU * t as f64 / period as f64 + phase(k)).sin();
    let noise = rng::normal(seed, coin, PAST.wrapping_add(t as u64));
    let log =
        0.25 * wave(90 * DAY, 1) + 0.05 * wave(7 * DAY, 2) + 0.01 * wave(DAY, 3) + 0.002 * noise;
    now_usd * log.exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_seconds_both_name_instants() {
        assert_eq!(instant(&Some("1714564800".into())), Some(1_714_564_800));
        assert_eq!(instant(&Some("2024-05-01".into())), Some(1_714_521_600));
        assert_eq!(instant(&Some("1970-01-01".into())), Some(0));
        assert_eq!(instant(&Some("2024-13-01".into())), None);
        assert_eq!(instant(&Some("soon".into())), None);
    }

    #[test]
    fn the_past_is_the_same_every_time_and_near_the_price_now() {
        let a = past_price(7, 3, 100.0, 1_700_000_000);
        assert_eq!(a, past_price(7, 3, 100.0, 1_700_000_000));
        assert_ne!(a, past_price(7, 3, 100.0, 1_700_003_600));
        assert!((50.0..200.0).contains(&a), "{a}");
    }
}
