//! CoinCap: the stream-worker's second source of live prices ([`stream`]), streamed while
//! Binance's streams are silent or failing; and a link of the price chain through its REST API
//! ([`CoinCapRest`], `/assets` read by [`parse_assets`]).

mod assets;
mod rest;
pub mod stream;

pub use assets::{Asset, parse_assets};
pub use rest::CoinCapRest;
