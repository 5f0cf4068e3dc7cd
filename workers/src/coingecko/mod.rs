//! The CoinGecko API v3 client: the only code that speaks CoinGecko's wire format.
//!
//! - [`CoinGecko`]: requests with the plan's key header, timeouts, error classification.
//! - [`SimplePrice`]: one coin's entry of `/simple/price`, numbers kept as exact decimals.
//! - [`parse_markets`], [`Global`], [`CoinDetails`]: `/coins/markets` rows, `/global` and the
//!   supply figures of `/coins/{id}`, numbers kept as exact decimals too.
//! - [`CoinsList`]: `/coins/list` with platforms, the catalogue's listing.
//! - [`ChartPoint`]: a past point of `/coins/{id}/market_chart/range`, for the history backfill.

mod client;
mod coin;
mod coins_list;
mod error;
mod global;
mod market_chart;
mod markets;
mod simple_price;

pub use client::CoinGecko;
pub use coin::{CoinDetails, parse_coin};
pub use coins_list::{CoinsList, parse_coins_list};
pub use error::CoinGeckoError;
pub use global::{Global, parse_global};
pub use market_chart::{ChartPoint, parse_market_chart};
pub use markets::{MAX_PER_PAGE, parse_markets};
pub use simple_price::{SimplePrice, parse_simple_prices};
