//! CoinGecko API v3, as served at `{base}/api/v3`: one file per endpoint, behind one gate that
//! injects faults and checks keys. Wire formats follow shared/reference/providers.md §1. Every
//! endpoint sees the same listed coins ([`crate::market`]): an unlisted coin is absent from the
//! lists and prices and a 404 on its page.

mod auth;
mod coin;
mod figures;
mod gate;
mod global;
mod list;
mod market_chart;
mod markets;
mod ping;
mod prices;
mod responses;
mod vs_currency;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;

use crate::state::SimState;

use figures::Figures;

/// Where the API lives on the sim, as on `api.coingecko.com`; a client's base URL ends with it.
pub(crate) const BASE_PATH: &str = "/api/v3";

pub(crate) fn router(state: Arc<SimState>) -> Router<Arc<SimState>> {
    let endpoints = Router::new()
        .route("/ping", get(ping::ping))
        .route("/simple/price", get(prices::simple_price))
        .route("/coins/list", get(list::list))
        .route("/coins/markets", get(markets::markets))
        .route("/coins/{id}", get(coin::coin))
        .route("/coins/{id}/market_chart/range", get(market_chart::range))
        .route("/global", get(global::global))
        // A route layer runs after routing, so unknown paths are plain 404s that count nowhere.
        .route_layer(middleware::from_fn_with_state(state, gate::gate));
    Router::new().nest(BASE_PATH, endpoints)
}

/// Every listed coin's figures at the current step, largest market cap first.
fn ranked_figures(state: &SimState) -> Vec<Figures> {
    let (coins, btc_usd) = state.market.ranked();
    coins
        .into_iter()
        .map(|coin| Figures {
            id: coin.id,
            quote: coin.quote,
            info: coin.info,
            rank: coin.rank,
            btc_usd,
        })
        .collect()
}

/// A CoinGecko-style image URL; the number is the coin's catalogue position, not CoinGecko's.
fn image_url(f: &Figures, size: &str) -> Box<serde_json::value::RawValue> {
    crate::json::string(&format!(
        "https://assets.coingecko.com/coins/images/{}/{size}/{}.png",
        f.quote.index + 1,
        f.id
    ))
}
