//! `GET /v3/assets?ids=bitcoin,ethereum[&search=][&limit=100][&offset=0]` and
//! `GET /v3/assets/{id}`: `{"data":[...] or {...},"timestamp":<unix ms>}`, each asset with every
//! number a string of 16 decimal places (`"priceUsd":"96123.4567890123456789"`), `rank` a string
//! too, and `maxSupply` `null` for uncapped coins (providers.md §4).
//!
//! Assets are the listed coins at the market's current step, named by CoinCap's ids, best-ranked
//! first: the prices CoinGecko and the stream serve at the same moment. `ids` keeps only those
//! (unknown ones are simply absent; the order stays by rank, as CoinCap sorts, UNCONFIRMED for
//! v3); `search` keeps those whose id, symbol or name contains it, case-insensitively (how v3
//! matches is UNCONFIRMED); `limit` (default 100, at most 2000) and `offset` then page. An
//! unknown or unlisted `{id}` is a 404 `{"error":"<id> not found"}`, as v2 answered.
//!
//! Figures CoinCap has and the sim does not keep are derived: `vwap24Hr` is the midpoint of the
//! 24h open and the price; `explorer` is always `null` (both may be `null` on CoinCap).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::rest::{error, json};
use super::{catalogue_id, coincap_id};
use crate::Served;
use crate::market::{Ranked, now_unix_ms};
use crate::state::{SimState, lock};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 2000;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Asset {
    id: String,
    rank: String,
    symbol: String,
    name: String,
    supply: String,
    max_supply: Option<String>,
    market_cap_usd: String,
    #[serde(rename = "volumeUsd24Hr")]
    volume_usd_24h: String,
    price_usd: String,
    #[serde(rename = "changePercent24Hr")]
    change_percent_24h: String,
    #[serde(rename = "vwap24Hr")]
    vwap_24h: Option<String>,
    explorer: Option<String>,
}

#[derive(Debug, Serialize)]
struct Envelope<T> {
    data: T,
    timestamp: u64,
}

/// CoinCap's decimal text: 16 places, never an exponent, never `-0`.
fn decimal(x: f64) -> String {
    let x = if x == 0.0 { 0.0 } else { x };
    format!("{x:.16}")
}

fn asset(coin: &Ranked) -> Asset {
    let q = &coin.quote;
    Asset {
        id: coincap_id(&coin.id).to_owned(),
        rank: coin.rank.to_string(),
        symbol: coin.info.symbol.clone(),
        name: coin.info.name.clone(),
        supply: decimal(q.circulating_supply),
        max_supply: coin.info.max_supply.map(decimal),
        market_cap_usd: decimal(q.market_cap_usd),
        volume_usd_24h: decimal(q.volume_24h_usd),
        price_usd: decimal(q.price_usd),
        change_percent_24h: decimal(q.change_24h_pct),
        vwap_24h: Some(decimal((q.open_24h_usd + q.price_usd) / 2.0)),
        explorer: None,
    }
}

/// Whether `wire` is CoinCap's id of the catalogue's coin `coin` (a catalogue id CoinCap spells
/// otherwise, `binancecoin`, is no CoinCap id).
fn names(wire: &str, coin: &str) -> bool {
    catalogue_id(wire) == coin && coincap_id(coin) == wire
}

pub(super) async fn list(
    State(state): State<Arc<SimState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let number = |name: &str| {
        params
            .get(name)
            .and_then(|v| v.trim().parse::<usize>().ok())
    };
    let limit = number("limit").unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = number("offset").unwrap_or(0);
    let ids: Option<HashSet<&str>> = params.get("ids").map(|ids| {
        ids.split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .collect()
    });
    let search = params
        .get("search")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let (coins, _) = state.market.ranked();
    let data: Vec<Asset> = coins
        .iter()
        .filter(|coin| {
            ids.as_ref()
                .is_none_or(|ids| ids.contains(coincap_id(&coin.id)))
        })
        .filter(|coin| {
            search.as_ref().is_none_or(|s| {
                coincap_id(&coin.id).contains(s.as_str())
                    || coin.info.symbol.to_lowercase().contains(s.as_str())
                    || coin.info.name.to_lowercase().contains(s.as_str())
            })
        })
        .skip(offset)
        .take(limit)
        .map(asset)
        .collect();
    let now_ms = now_unix_ms();
    record(&state, now_ms, &data);
    json(&Envelope {
        data,
        timestamp: now_ms,
    })
}

pub(super) async fn one(State(state): State<Arc<SimState>>, Path(id): Path<String>) -> Response {
    let (coins, _) = state.market.ranked();
    let Some(coin) = coins.iter().find(|coin| names(&id, &coin.id)) else {
        return error(StatusCode::NOT_FOUND, &format!("{id} not found"));
    };
    let data = asset(coin);
    let now_ms = now_unix_ms();
    record(&state, now_ms, std::slice::from_ref(&data));
    json(&Envelope {
        data,
        timestamp: now_ms,
    })
}

/// Records each asset's `priceUsd` by its catalogue id.
fn record(state: &SimState, now_ms: u64, data: &[Asset]) {
    if data.is_empty() {
        return;
    }
    let mut served = lock(&state.served);
    let prices = data
        .iter()
        .map(|a| (catalogue_id(&a.id), a.price_usd.clone()));
    Served::record(&mut served.coincap, now_ms, prices);
}
