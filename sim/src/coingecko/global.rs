//! `GET /global`: totals over every coin at this step. Totals are in USD, EUR, BTC and ETH, and in
//! a few weak fiat currencies (fixed rates) whose huge values CoinGecko writes in exponent
//! notation (`2.70016521312815e+15`), a quirk clients must parse.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::value::RawValue;

use super::figures::Figures;
use super::responses;
use crate::json::{self, Ordered, number};
use crate::number::huge;
use crate::state::SimState;

/// Units per USD of fiat currencies shown only here.
const FIAT: &[(&str, f64)] = &[
    ("eur", 0.92),
    ("jpy", 155.3),
    ("ars", 1_075.0),
    ("idr", 16_250.0),
    ("vnd", 25_400.0),
];
/// Fixed counters CoinGecko reports; the sim has no ICOs or exchanges.
const UPCOMING_ICOS: u64 = 0;
const ONGOING_ICOS: u64 = 49;
const ENDED_ICOS: u64 = 3376;
const MARKETS: u64 = 1297;
/// How many coins `market_cap_percentage` lists.
const DOMINANCE_TOP: usize = 10;

pub(super) async fn global(State(state): State<Arc<SimState>>) -> Response {
    let coins = super::ranked_figures(&state);
    let Some(first) = coins.first() else {
        return responses::internal_error();
    };
    let btc_usd = first.btc_usd;
    let eth_usd = coins
        .iter()
        .find(|f| f.id == "ethereum")
        .map_or(f64::NAN, Figures::price);
    let cap: f64 = coins.iter().map(|f| f.quote.market_cap_usd).sum();
    let volume: f64 = coins.iter().map(|f| f.quote.volume_24h_usd).sum();
    let open_cap: f64 = coins
        .iter()
        .map(|f| f.quote.open_24h_usd * f.quote.circulating_supply)
        .sum();
    let in_currencies = |usd: f64| {
        let mut fields = vec![
            ("btc", number(huge(usd / btc_usd))),
            ("eth", number(huge(usd / eth_usd))),
            ("usd", number(huge(usd))),
        ];
        fields.extend(
            FIAT.iter()
                .map(|&(code, rate)| (code, number(huge(usd * rate)))),
        );
        json::value(&Ordered(fields))
    };
    // Keyed by ticker, as CoinGecko keys it; should two of the top coins share one, the
    // larger keeps it, so the object never repeats a key.
    let mut keys = std::collections::HashSet::new();
    let dominance: Vec<(String, Box<RawValue>)> = coins
        .iter()
        .take(DOMINANCE_TOP)
        .filter(|f| keys.insert(f.info.symbol.to_lowercase()))
        .map(|f| {
            let share = f.quote.market_cap_usd / cap * 100.0;
            (f.info.symbol.to_lowercase(), number(huge(share)))
        })
        .collect();
    let updated_at = first.quote.updated_at_unix_secs;
    let data: Vec<(&str, Box<RawValue>)> = vec![
        ("active_cryptocurrencies", number(coins.len().to_string())),
        ("upcoming_icos", number(UPCOMING_ICOS.to_string())),
        ("ongoing_icos", number(ONGOING_ICOS.to_string())),
        ("ended_icos", number(ENDED_ICOS.to_string())),
        ("markets", number(MARKETS.to_string())),
        ("total_market_cap", in_currencies(cap)),
        ("total_volume", in_currencies(volume)),
        ("market_cap_percentage", json::value(&Ordered(dominance))),
        (
            "market_cap_change_percentage_24h_usd",
            number(huge((cap / open_cap - 1.0) * 100.0)),
        ),
        ("updated_at", number(updated_at.to_string())),
    ];
    match serde_json::to_string(&Ordered(vec![("data", Ordered(data))])) {
        Ok(body) => responses::ok(body),
        Err(_) => responses::internal_error(),
    }
}
