//! The Alpha Vantage client: exchange rates (`CURRENCY_EXCHANGE_RATE`) for the `rates` queue.
//! The only code that speaks Alpha Vantage's wire format.
//!
//! - [`AlphaVantage`]: `GET {base_url}/query?function=…&apikey=…`, timeouts, error
//!   classification. Alpha Vantage answers every error with HTTP 200 and a body saying so
//!   (`Information` or `Note` when throttled, `Error Message` otherwise), so the reading looks
//!   at the body.
//! - [`parse_exchange_rate`]: the `Realtime Currency Exchange Rate` object, the rate kept as an
//!   exact decimal.
//!
//! Its errors are the keyed market-data APIs' ([`crate::price_api::PriceApiError`]).

mod client;
mod exchange_rate;

pub use client::AlphaVantage;
pub use exchange_rate::{ExchangeRate, Refusal, parse_exchange_rate};
