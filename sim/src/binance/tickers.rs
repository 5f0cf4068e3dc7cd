//! `GET /api/v3/ticker/price` and `GET /api/v3/ticker/24hr` (`type=FULL`, the default, or `MINI`):
//! prices and quantities as strings with 8 decimals, times in milliseconds, one object for
//! `symbol`, an array otherwise.
//!
//! Consistency with CoinGecko: a pair's price is its base coin's USD price from the same walk at
//! the same step, with USDT taken as exactly 1 USD, written with Binance's 8 decimals
//! (`format!("{:.8}")`, round half to even on the binary value). So at one moment `BTCUSDT`'s
//! `price` equals CoinGecko's `/simple/price` USD for `bitcoin` rounded to 8 decimals.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Serialize;
use tokio::time::Instant;

use super::responses;
use super::symbols::{Pair, Selection};
use crate::Served;
use crate::limiter::retry_after_secs;
use crate::market::{Quote, now_unix_ms};
use crate::number::significant;
use crate::state::{SimState, lock};

const DAY_MS: u64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Price,
    Day,
    /// `ticker/24hr?type=MINI`: same weight, fewer fields.
    Mini,
}

impl Endpoint {
    /// Binance's documented request weights.
    fn weight(self, selection: Option<&Selection>) -> u32 {
        let count = selection.and_then(Selection::count);
        match (self, count) {
            (Self::Price, Some(1)) => 2,
            (Self::Price, _) => 4,
            (Self::Day | Self::Mini, Some(1..=20)) => 2,
            (Self::Day | Self::Mini, Some(21..=100)) => 40,
            (Self::Day | Self::Mini, _) => 80,
        }
    }
}

pub(super) async fn price(
    State(state): State<Arc<SimState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    answer(&state, Endpoint::Price, &params)
}

pub(super) async fn day(
    State(state): State<Arc<SimState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let endpoint = match params.get("type").map(String::as_str) {
        Some("MINI") => Endpoint::Mini,
        _ => Endpoint::Day,
    };
    answer(&state, endpoint, &params)
}

fn answer(state: &SimState, endpoint: Endpoint, params: &HashMap<String, String>) -> Response {
    let selection = Selection::parse(params);
    let weight = endpoint.weight(selection.as_ref().ok());
    let limit = lock(&state.faults).binance_weight_per_minute;
    let used = match lock(&state.binance_weight).try_take(Instant::now(), weight, limit) {
        Ok(used) => used,
        Err(full) => {
            lock(&state.stats)
                .record_refusal(crate::Provider::Binance, crate::stats::Refusal::RateLimited);
            return responses::too_much_weight(limit, retry_after_secs(full.wait), full.used);
        }
    };
    let selection = match selection {
        Ok(selection) => selection,
        Err(error) => return responses::bad_request(error, used),
    };
    let Some(pairs) = selection.pairs(&state.market) else {
        return responses::bad_request(responses::INVALID_SYMBOL, used);
    };
    let now_ms = now_unix_ms();
    let mut served: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    let body = {
        let mut quotes = state.market.quotes();
        let rows: Vec<(String, Row)> = pairs
            .iter()
            .filter_map(|pair| {
                let quote = quotes.get(&pair.coin_id)?;
                let row = match endpoint {
                    Endpoint::Price => Row::Price(PriceRow {
                        symbol: pair.symbol.clone(),
                        price: p8(quote.price_usd),
                    }),
                    Endpoint::Day => Row::Day(Box::new(day_row(pair, &quote, now_ms))),
                    Endpoint::Mini => Row::Mini(Box::new(day_row(pair, &quote, now_ms).into())),
                };
                Some((pair.symbol.clone(), row))
            })
            .collect();
        for (symbol, row) in &rows {
            served.push((symbol.clone(), row.price().to_owned()));
        }
        let rows: Vec<&Row> = rows.iter().map(|(_, row)| row).collect();
        match selection {
            Selection::One(_) => rows.first().map(serde_json::to_string),
            _ => Some(serde_json::to_string(&rows)),
        }
    };
    let Some(Ok(body)) = body else {
        return responses::unavailable(used);
    };
    let served = served
        .iter()
        .map(|(symbol, price)| (symbol.as_str(), price.clone()));
    Served::record(&mut lock(&state.served).binance, now_ms, served);
    responses::ok(body, used)
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Row {
    Price(PriceRow),
    Day(Box<DayRow>),
    Mini(Box<MiniRow>),
}

impl Row {
    fn price(&self) -> &str {
        match self {
            Self::Price(row) => &row.price,
            Self::Day(row) => &row.last_price,
            Self::Mini(row) => &row.last_price,
        }
    }
}

#[derive(Debug, Serialize)]
struct PriceRow {
    symbol: String,
    price: String,
}

/// A FULL 24hr row, keys in Binance's order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DayRow {
    pub(super) symbol: String,
    pub(super) price_change: String,
    pub(super) price_change_percent: String,
    pub(super) weighted_avg_price: String,
    pub(super) prev_close_price: String,
    pub(super) last_price: String,
    pub(super) last_qty: String,
    pub(super) bid_price: String,
    pub(super) bid_qty: String,
    pub(super) ask_price: String,
    pub(super) ask_qty: String,
    pub(super) open_price: String,
    pub(super) high_price: String,
    pub(super) low_price: String,
    pub(super) volume: String,
    pub(super) quote_volume: String,
    pub(super) open_time: u64,
    pub(super) close_time: u64,
    pub(super) first_id: u64,
    pub(super) last_id: u64,
    pub(super) count: u64,
}

/// A MINI 24hr row, keys in Binance's order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MiniRow {
    symbol: String,
    open_price: String,
    high_price: String,
    low_price: String,
    last_price: String,
    volume: String,
    quote_volume: String,
    open_time: u64,
    close_time: u64,
    first_id: u64,
    last_id: u64,
    count: u64,
}

impl From<DayRow> for MiniRow {
    fn from(full: DayRow) -> Self {
        Self {
            symbol: full.symbol,
            open_price: full.open_price,
            high_price: full.high_price,
            low_price: full.low_price,
            last_price: full.last_price,
            volume: full.volume,
            quote_volume: full.quote_volume,
            open_time: full.open_time,
            close_time: full.close_time,
            first_id: full.first_id,
            last_id: full.last_id,
            count: full.count,
        }
    }
}

pub(super) fn day_row(pair: &Pair, quote: &Quote, now_ms: u64) -> DayRow {
    let last = round8(quote.price_usd);
    let open = round8(quote.open_24h_usd);
    let tick = (last * 0.000_02).max(0.000_000_01);
    let volume_base = quote.volume_24h_usd / quote.price_usd;
    // Trades: about one per 2,000 USD of volume, numbered per coin so ids never collide.
    let count = (quote.volume_24h_usd / 2_000.0).clamp(1.0, 5.0e7) as u64;
    let first_id = (quote.index + 1) * 1_000_000_000;
    DayRow {
        symbol: pair.symbol.clone(),
        price_change: p8(last - open),
        price_change_percent: format!("{:.3}", (last - open) / open * 100.0),
        weighted_avg_price: p8((last + open) / 2.0),
        prev_close_price: p8(open),
        last_price: p8(quote.price_usd),
        last_qty: qty8(round8(100.0 / last)),
        bid_price: p8(last - tick),
        bid_qty: qty8(round8(2_500.0 / last)),
        ask_price: p8(last + tick),
        ask_qty: qty8(round8(1_700.0 / last)),
        open_price: p8(open),
        high_price: p8(last.max(open) * 1.004),
        low_price: p8(last.min(open) * 0.996),
        volume: qty8(volume_base),
        quote_volume: qty8(quote.volume_24h_usd),
        open_time: now_ms - DAY_MS,
        close_time: now_ms,
        first_id,
        last_id: first_id + count - 1,
        count,
    }
}

fn round8(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}

/// A quantity with 8 decimals but no more than 15 significant digits, so a huge volume reads
/// `23572000000000.00000000` rather than the binary float's tail.
pub(super) fn qty8(x: f64) -> String {
    let text = significant(x, 15);
    let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
    match decimals {
        0 => format!("{text}.00000000"),
        d if d < 8 => format!("{text}{}", "0".repeat(8 - d)),
        _ => p8(x),
    }
}

/// Binance's 8-decimal price text.
pub(super) fn p8(x: f64) -> String {
    format!("{x:.8}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_have_8_decimals_and_huge_quantities_no_binary_tail() {
        assert_eq!(p8(95_176.591_643_553), "95176.59164355");
        assert_eq!(p8(0.000_022_03), "0.00002203");
        assert_eq!(qty8(23_572_000_000_000.004), "23572000000000.00000000");
        assert_eq!(qty8(0.028_440_3), "0.02844030");
    }

    #[test]
    fn weights_follow_binances_table() {
        let one = Selection::One("BTCUSDT".into());
        let many = Selection::Many(vec!["A".into(); 21]);
        assert_eq!(Endpoint::Price.weight(Some(&one)), 2);
        assert_eq!(Endpoint::Price.weight(None), 4);
        assert_eq!(Endpoint::Day.weight(Some(&one)), 2);
        assert_eq!(Endpoint::Day.weight(Some(&many)), 40);
        assert_eq!(Endpoint::Day.weight(Some(&Selection::All)), 80);
    }
}
