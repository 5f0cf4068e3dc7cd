//! `GET /api/global/`: market totals as a bare one-element array, with CoinLore's mixed types
//! (counts and totals numbers, dominance and changes strings with two decimals). The field names
//! follow providers.md §7; their types there are UNCONFIRMED and chosen like `/tickers/`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::tickers::json;
use crate::state::SimState;

/// Fixed: the sim has no exchanges.
const ACTIVE_MARKETS: u64 = 24_652;

#[derive(Debug, Serialize)]
struct Global {
    coins_count: usize,
    active_markets: u64,
    total_mcap: f64,
    total_volume: f64,
    btc_d: String,
    eth_d: String,
    mcap_change: String,
    volume_change: String,
    avg_change_percent: String,
    volume_ath: f64,
    mcap_ath: f64,
}

pub(super) async fn global(State(state): State<Arc<SimState>>) -> Response {
    let (coins, _) = state.market.ranked();
    let cap: f64 = coins.iter().map(|c| c.quote.market_cap_usd).sum();
    let volume: f64 = coins.iter().map(|c| c.quote.volume_24h_usd).sum();
    let open_cap: f64 = coins
        .iter()
        .map(|c| c.quote.open_24h_usd * c.quote.circulating_supply)
        .sum();
    // By id: bridged tokens share the tickers `BTC` and `ETH`.
    let share = |id: &str| {
        let coin_cap = coins
            .iter()
            .find(|c| c.id == id)
            .map_or(0.0, |c| c.quote.market_cap_usd);
        format!("{:.2}", coin_cap / cap * 100.0)
    };
    let average = coins.iter().map(|c| c.quote.change_24h_pct).sum::<f64>() / coins.len() as f64;
    let global = Global {
        coins_count: coins.len(),
        active_markets: ACTIVE_MARKETS,
        total_mcap: cap,
        total_volume: volume,
        btc_d: share("bitcoin"),
        eth_d: share("ethereum"),
        mcap_change: format!("{:.2}", (cap / open_cap - 1.0) * 100.0),
        // The sim keeps no volume history: volume is flat.
        volume_change: "0.00".to_owned(),
        avg_change_percent: format!("{average:.2}"),
        volume_ath: volume * 3.2,
        mcap_ath: cap.max(open_cap) * 1.15,
    };
    json(&[global])
}
