//! The CoinLore client: the market worker's fallback for the top-N when CoinGecko fails. No key.
//!
//! - [`CoinLore`]: requests with a timeout and error classification.
//! - [`parse_tickers`]: `/tickers/` rows with CoinLore's mixed types, as exact decimals.

mod client;
mod error;
mod tickers;

pub use client::CoinLore;
pub use error::CoinLoreError;
pub use tickers::{MAX_PER_PAGE, Tickers, parse_tickers};
