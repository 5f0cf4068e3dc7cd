//! `GET /simple/price`: prices of many coins by id, in one or more currencies, with optional market
//! cap, 24h volume, 24h change and update time. Unknown ids are left out; only unknown ids give `{}`.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::responses;
use super::vs_currency::VsCurrency;
use crate::Served;
use crate::json::{Ordered, number};
use crate::market::{Quote, now_unix_ms};
use crate::number::Precision;
use crate::state::{SimState, lock};

/// Flags are `true` only when spelled `true`, as CoinGecko reads them.
#[derive(Debug, Deserialize)]
pub(super) struct SimplePriceQuery {
    ids: Option<String>,
    vs_currencies: Option<String>,
    include_market_cap: Option<String>,
    include_24hr_vol: Option<String>,
    include_24hr_change: Option<String>,
    include_last_updated_at: Option<String>,
    precision: Option<String>,
}

/// What one request asked for, parsed.
#[derive(Debug)]
struct Wanted {
    currencies: Vec<VsCurrency>,
    market_cap: bool,
    volume: bool,
    change: bool,
    last_updated_at: bool,
    precision: Precision,
}

type CoinObject = Ordered<String, Box<RawValue>>;

pub(super) async fn simple_price(
    State(state): State<Arc<SimState>>,
    query: Result<Query<SimplePriceQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return responses::bad_request("Invalid query");
    };
    let Some(ids) = present(&query.ids) else {
        return responses::bad_request("Missing parameter ids");
    };
    let Some(vs_currencies) = present(&query.vs_currencies) else {
        return responses::bad_request("Missing parameter vs_currencies");
    };
    let ids = unique(list(ids));
    let wanted = Wanted {
        currencies: unique(list(vs_currencies).filter_map(VsCurrency::parse)),
        market_cap: flag(&query.include_market_cap),
        volume: flag(&query.include_24hr_vol),
        change: flag(&query.include_24hr_change),
        last_updated_at: flag(&query.include_last_updated_at),
        precision: Precision::parse(query.precision.as_deref()),
    };
    lock(&state.stats).ids_requested += ids.len() as u64;

    let mut coins = Vec::with_capacity(ids.len());
    let mut served_usd = Vec::new();
    {
        let mut quotes = state.market.quotes();
        let btc_usd = quotes.get("bitcoin").map_or(f64::NAN, |q| q.price_usd);
        for id in ids {
            let Some(quote) = quotes.get(id) else {
                continue;
            };
            let (object, usd) = coin_object(&quote, &wanted, btc_usd);
            served_usd.extend(usd.map(|text| (id, text)));
            coins.push((id, object));
        }
    }
    let Ok(body) = serde_json::to_string(&Ordered(coins)) else {
        return responses::internal_error();
    };
    record_served(&state, served_usd);
    responses::ok(body)
}

/// One coin's object, and its USD price text when USD was asked for.
fn coin_object(quote: &Quote, wanted: &Wanted, btc_usd: f64) -> (CoinObject, Option<String>) {
    let precision = wanted.precision;
    let mut fields = Vec::new();
    let mut usd_text = None;
    for &vs in &wanted.currencies {
        let code = vs.code();
        let price = precision.price(vs.convert(quote.price_usd, btc_usd));
        if vs == VsCurrency::Usd {
            usd_text = Some(price.clone());
        }
        fields.push((code.to_owned(), number(price)));
        if wanted.market_cap {
            let cap = precision.amount(vs.convert(quote.market_cap_usd, btc_usd));
            fields.push((format!("{code}_market_cap"), number(cap)));
        }
        // The parameters say `24hr`, the keys `24h`.
        if wanted.volume {
            let volume = precision.amount(vs.convert(quote.volume_24h_usd, btc_usd));
            fields.push((format!("{code}_24h_vol"), number(volume)));
        }
        if wanted.change {
            let change = precision.amount(quote.change_24h_pct);
            fields.push((format!("{code}_24h_change"), number(change)));
        }
    }
    if wanted.last_updated_at {
        fields.push((
            "last_updated_at".to_owned(),
            number(quote.updated_at_unix_secs.to_string()),
        ));
    }
    (Ordered(fields), usd_text)
}

pub(super) fn record_served(state: &SimState, served_usd: Vec<(&str, String)>) {
    if served_usd.is_empty() {
        return;
    }
    let mut served = lock(&state.served);
    Served::record(&mut served.coingecko, now_unix_ms(), served_usd);
}

pub(super) fn present(param: &Option<String>) -> Option<&str> {
    param.as_deref().filter(|value| !value.trim().is_empty())
}

pub(super) fn flag(param: &Option<String>) -> bool {
    param.as_deref() == Some("true")
}

/// A comma-separated list; spaces around commas and empty items are tolerated.
pub(super) fn list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// Keeps the first of each item, in order: a JSON object cannot repeat a key.
pub(super) fn unique<T: Eq + std::hash::Hash + Copy>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items.filter(|item| seen.insert(*item)).collect()
}
