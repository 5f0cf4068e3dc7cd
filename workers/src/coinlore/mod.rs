//! The CoinLore client: the price tiers' pages, and the fallback for the catalogue, the top-N
//! and the global figures when CoinGecko fails. No key.
//!
//! - [`CoinLore`]: requests with a timeout and error classification.
//! - [`parse_tickers`]: `/tickers/` rows with CoinLore's mixed types, as exact decimals.
//! - [`parse_global`]: `/global/`'s market totals.

mod client;
mod error;
mod global;
mod tickers;

pub use client::{CoinLore, MAX_IDS_PER_TICKER};
pub use error::CoinLoreError;
pub use global::{Global, parse_global};
pub use tickers::{MAX_PER_PAGE, Tickers, parse_ticker, parse_tickers};
