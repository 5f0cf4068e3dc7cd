//! The CoinGecko API v3 client: the only code that speaks CoinGecko's wire format.
//!
//! - [`CoinGecko`]: requests with the plan's key header, timeouts, error classification.
//! - [`SimplePrice`]: one coin's entry of `/simple/price`, numbers kept as exact decimals.

mod client;
mod error;
mod simple_price;

pub use client::CoinGecko;
pub use error::CoinGeckoError;
pub use simple_price::{SimplePrice, parse_simple_prices};
