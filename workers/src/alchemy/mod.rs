//! The Alchemy Prices API client: a link of the price chain, asked by symbol. The only code that
//! speaks Alchemy's wire format.
//!
//! - [`Alchemy`]: `GET {base_url}/{key}/tokens/by-symbol?symbols=…` with the key as a path
//!   segment (as Alchemy's own clients send it), timeouts, error classification.
//! - [`parse_by_symbol`]: the `data` items' USD prices, kept as exact decimals.
//!
//! Its errors are the keyed price APIs' ([`crate::price_api::PriceApiError`]).

mod by_symbol;
mod client;

pub use by_symbol::{AlchemyPrice, parse_by_symbol};
pub use client::Alchemy;
