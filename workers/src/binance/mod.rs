//! The Binance spot market-data client: the price worker's fallback when CoinGecko fails.
//!
//! Binance quotes against USDT, not USD: a `BTCUSDT` last price is recorded as BTC's USD price
//! with `source: "binance"`, which says where (and so in what quote) the figure came from. USDT
//! has no USDT pair, so Binance never prices USDT itself: a USDT record only ever comes from
//! an upstream that quotes it in USD (see ARCHITECTURE.md, "Price failover").

mod client;
mod error;
pub mod stream;
mod ticker;

pub use client::Binance;
pub use error::BinanceError;
pub use ticker::{Ticker24h, pair_for};
