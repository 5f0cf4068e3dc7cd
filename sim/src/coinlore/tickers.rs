//! `GET /api/tickers/?start=0&limit=100` (an object `{"data":[...],"info":{...}}`) and
//! `GET /api/ticker/?id=90` (a bare array), with CoinLore's mixed types: `id` a string, `rank` a
//! number, prices, percents and supplies strings, `volume24` a number on `/tickers/` but a string
//! on `/ticker/`, and `msupply` `""` for uncapped coins. Only listed coins appear, and
//! `info.coins_num` counts them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::Served;
use crate::market::{Ranked, now_unix_ms};
use crate::number::significant;
use crate::state::{SimState, lock};

const MAX_LIMIT: usize = 100;
/// `volume24a` (a second volume figure CoinLore adds) relative to `volume24`.
const VOLUME_A_RATIO: f64 = 1.13;

#[derive(Debug, Serialize)]
struct Row<V> {
    id: String,
    symbol: String,
    name: String,
    nameid: String,
    rank: u64,
    price_usd: String,
    percent_change_24h: String,
    percent_change_1h: String,
    percent_change_7d: String,
    price_btc: String,
    market_cap_usd: String,
    volume24: V,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume24a: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume24_native: Option<String>,
    csupply: String,
    tsupply: String,
    msupply: String,
}

/// CoinLore's decimal text: two places from 1 up (`"91492.61"`, `"1.00"`), significant digits
/// below (`"0.00002234"`).
fn decimal(x: f64) -> String {
    if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        significant(x, 4)
    }
}

fn row<V>(coin: &Ranked, btc_usd: f64, volume: V, list: bool) -> Row<V> {
    let q = &coin.quote;
    let day = q.change_24h_pct;
    Row {
        id: coin.info.coinlore_id.to_string(),
        symbol: coin.info.symbol.clone(),
        name: coin.info.name.clone(),
        nameid: coin.id.clone(),
        rank: coin.rank,
        price_usd: decimal(q.price_usd),
        percent_change_24h: format!("{day:.2}"),
        percent_change_1h: format!("{:.2}", day / 24.0),
        percent_change_7d: format!("{:.2}", day * 1.7),
        price_btc: decimal(q.price_usd / btc_usd),
        market_cap_usd: format!("{:.2}", q.market_cap_usd),
        volume24: volume,
        volume24a: list.then_some(q.volume_24h_usd * VOLUME_A_RATIO),
        volume24_native: (!list).then(|| format!("{:.2}", q.volume_24h_usd / q.price_usd)),
        csupply: format!("{:.2}", q.circulating_supply),
        tsupply: format!("{:.0}", coin.info.total_supply),
        msupply: coin
            .info
            .max_supply
            .map_or_else(String::new, |max| format!("{max:.0}")),
    }
}

#[derive(Debug, Serialize)]
struct Info {
    coins_num: usize,
    time: u64,
}

#[derive(Debug, Serialize)]
struct Page<'a> {
    data: Vec<Row<f64>>,
    info: &'a Info,
}

pub(super) async fn tickers(
    State(state): State<Arc<SimState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let number = |name: &str| {
        params
            .get(name)
            .and_then(|v| v.trim().parse::<usize>().ok())
    };
    let start = number("start").unwrap_or(0);
    let limit = number("limit").unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
    let (coins, btc_usd) = state.market.ranked();
    let data: Vec<Row<f64>> = coins
        .iter()
        .skip(start)
        .take(limit)
        .map(|coin| row(coin, btc_usd, coin.quote.volume_24h_usd, true))
        .collect();
    let now_ms = now_unix_ms();
    let info = Info {
        coins_num: coins.len(),
        time: now_ms / 1000,
    };
    record(&state, now_ms, &data);
    json(&Page { data, info: &info })
}

pub(super) async fn ticker(
    State(state): State<Arc<SimState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let wanted: Vec<&str> = params
        .get("id")
        .map(|ids| ids.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let (coins, btc_usd) = state.market.ranked();
    let data: Vec<Row<String>> = wanted
        .iter()
        .filter_map(|id| {
            let coin = coins
                .iter()
                .find(|c| c.info.coinlore_id.to_string() == *id)?;
            Some(row(
                coin,
                btc_usd,
                format!("{:.2}", coin.quote.volume_24h_usd),
                false,
            ))
        })
        .collect();
    record(&state, now_unix_ms(), &data);
    json(&data)
}

/// Records the rows' prices by symbol and by `nameid` (symbols collide; nameids do not).
fn record<V>(state: &SimState, now_ms: u64, rows: &[Row<V>]) {
    let mut served = lock(&state.served);
    let by_symbol = rows
        .iter()
        .map(|r| (r.symbol.as_str(), r.price_usd.clone()));
    Served::record(&mut served.coinlore, now_ms, by_symbol.clone());
    Served::record_recent(&mut served.coinlore_recent, now_ms, by_symbol);
    let by_nameid = rows
        .iter()
        .map(|r| (r.nameid.as_str(), r.price_usd.clone()));
    Served::record(&mut served.coinlore_by_nameid, now_ms, by_nameid);
}

pub(super) fn json<T: Serialize>(body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
