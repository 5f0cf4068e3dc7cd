//! `GET /coins/markets`: one row per coin with price, market cap, rank, supplies and extremes,
//! ordered and paged (`per_page` 1..=250, default 100). `current_price` in USD is the same text
//! `/simple/price` sends at the same step and precision.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::figures::Figures;
use super::prices::{flag, list, present, record_served};
use super::responses;
use super::vs_currency::VsCurrency;
use crate::json::{self, Ordered, number};
use crate::market::now_unix_ms;
use crate::number::Precision;
use crate::state::SimState;

const MAX_PER_PAGE: usize = 250;
const DEFAULT_PER_PAGE: usize = 100;
/// Points of `sparkline_in_7d.price`: hourly over a week.
const SPARKLINE_POINTS: usize = 168;

#[derive(Debug, Deserialize)]
pub(super) struct MarketsQuery {
    vs_currency: Option<String>,
    ids: Option<String>,
    order: Option<String>,
    per_page: Option<String>,
    page: Option<String>,
    sparkline: Option<String>,
    price_change_percentage: Option<String>,
    precision: Option<String>,
}

pub(super) async fn markets(
    State(state): State<Arc<SimState>>,
    query: Result<Query<MarketsQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return responses::bad_request("Invalid query");
    };
    let Some(vs) = present(&query.vs_currency) else {
        return responses::bad_request("Missing parameter vs_currency");
    };
    let Some(vs) = VsCurrency::parse(vs.trim()) else {
        return responses::bad_request("invalid vs_currency");
    };
    let per_page = number_param(&query.per_page)
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    let page = number_param(&query.page).unwrap_or(1).max(1);
    let precision = Precision::parse(query.precision.as_deref());
    let sparkline = flag(&query.sparkline);
    let windows: Vec<&str> = present(&query.price_change_percentage)
        .map(|raw| list(raw).collect())
        .unwrap_or_default();
    let ids: Option<HashSet<&str>> = present(&query.ids).map(|raw| list(raw).collect());

    let mut coins = super::ranked_figures(&state);
    if let Some(ids) = &ids {
        coins.retain(|f| ids.contains(f.id.as_str()));
    }
    sort(&mut coins, query.order.as_deref());
    let rows: Vec<_> = coins
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|f| row(f, vs, precision, sparkline, &windows))
        .collect();
    let served: Vec<(&str, String)> = match vs {
        VsCurrency::Usd => coins
            .iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .map(|f| (f.id.as_str(), precision.price(f.price())))
            .collect(),
        _ => Vec::new(),
    };
    let Ok(body) = serde_json::to_string(&rows) else {
        return responses::internal_error();
    };
    if !served.is_empty() {
        let mut log = crate::state::lock(&state.served);
        let entries = served.iter().map(|(id, usd)| (*id, usd.clone()));
        crate::Served::record(&mut log.coingecko_markets, now_unix_ms(), entries);
    }
    record_served(&state, served);
    responses::ok(body)
}

fn number_param(raw: &Option<String>) -> Option<usize> {
    raw.as_deref().and_then(|v| v.trim().parse().ok())
}

/// `market_cap_desc` (the default) through `id_desc`; unknown orders keep the default.
fn sort(coins: &mut [Figures], order: Option<&str>) {
    match order {
        Some("market_cap_asc") => coins.reverse(),
        Some("volume_desc") => {
            coins.sort_by(|a, b| b.quote.volume_24h_usd.total_cmp(&a.quote.volume_24h_usd))
        }
        Some("volume_asc") => {
            coins.sort_by(|a, b| a.quote.volume_24h_usd.total_cmp(&b.quote.volume_24h_usd))
        }
        Some("id_asc") => coins.sort_by(|a, b| a.id.cmp(&b.id)),
        Some("id_desc") => coins.sort_by(|a, b| b.id.cmp(&a.id)),
        _ => {}
    }
}

type Row = Ordered<String, Box<RawValue>>;

fn row(f: &Figures, vs: VsCurrency, p: Precision, sparkline: bool, windows: &[&str]) -> Row {
    let price = |usd: f64| number(p.price(f.convert(vs, usd)));
    let amount = |usd: f64| number(p.amount(f.convert(vs, usd)));
    let pct = |x: f64| number(p.amount(x));
    let mut fields: Vec<(String, Box<RawValue>)> = vec![
        ("id".into(), json::string(&f.id)),
        ("symbol".into(), json::string(&f.info.symbol.to_lowercase())),
        ("name".into(), json::string(&f.info.name)),
        ("image".into(), super::image_url(f, "large")),
        ("current_price".into(), price(f.price())),
        ("market_cap".into(), amount(f.quote.market_cap_usd)),
        ("market_cap_rank".into(), number(f.rank.to_string())),
        (
            "fully_diluted_valuation".into(),
            amount(f.fully_diluted_valuation()),
        ),
        ("total_volume".into(), amount(f.quote.volume_24h_usd)),
        ("high_24h".into(), price(f.high_24h())),
        ("low_24h".into(), price(f.low_24h())),
        ("price_change_24h".into(), amount(f.price_change_24h())),
        (
            "price_change_percentage_24h".into(),
            pct(f.quote.change_24h_pct),
        ),
        (
            "market_cap_change_24h".into(),
            amount(f.market_cap_change_24h()),
        ),
        (
            "market_cap_change_percentage_24h".into(),
            pct(f.quote.change_24h_pct),
        ),
        (
            "circulating_supply".into(),
            Figures::supply(f.quote.circulating_supply),
        ),
        ("total_supply".into(), Figures::supply(f.info.total_supply)),
        ("max_supply".into(), f.max_supply()),
        ("ath".into(), price(f.ath())),
        (
            "ath_change_percentage".into(),
            pct((f.price() / f.ath() - 1.0) * 100.0),
        ),
        ("ath_date".into(), json::string(f.info.ath_date)),
        ("atl".into(), price(f.atl())),
        (
            "atl_change_percentage".into(),
            pct((f.price() / f.atl() - 1.0) * 100.0),
        ),
        ("atl_date".into(), json::string(f.info.atl_date)),
        ("roi".into(), f.roi()),
        ("last_updated".into(), json::string(&f.last_updated())),
    ];
    if sparkline {
        let points: Vec<Box<RawValue>> = sparkline_prices(f)
            .into_iter()
            .map(|usd| number(Precision::Full.price(f.convert(vs, usd))))
            .collect();
        let inner = Ordered(vec![("price", points)]);
        fields.push(("sparkline_in_7d".into(), json::value(&inner)));
    }
    for window in windows {
        if let Some(change) = f.change_pct(window) {
            fields.push((
                format!("price_change_percentage_{window}_in_currency"),
                pct(change),
            ));
        }
    }
    Ordered(fields)
}

/// A week of hourly prices ending at the current one: a straight line from the 7d-ago price
/// (scaled from the 24h change) with a small deterministic wiggle.
fn sparkline_prices(f: &Figures) -> Vec<f64> {
    let change = f.change_pct("7d").unwrap_or(0.0) / 100.0;
    let start = f.price() / (1.0 + change);
    (0..SPARKLINE_POINTS)
        .map(|k| {
            let t = k as f64 / (SPARKLINE_POINTS - 1) as f64;
            let wiggle = if k + 1 == SPARKLINE_POINTS {
                0.0
            } else {
                0.004 * ((k as f64) * 0.7 + f.quote.index as f64).sin()
            };
            (start + (f.price() - start) * t) * (1.0 + wiggle)
        })
        .collect()
}
