//! The cache: what workers write and the API reads, with the rules that make it honest.
//!
//! - [`PriceRecord`]: one symbol's USD price as the upstream gave it, with when and from where.
//! - [`PriceCache`]: atomic newest-wins writes (a re-delivered job never rolls a record back),
//!   one history point per write, an update event per record, reads by symbol.
//! - [`Freshness`]: a record's age and whether it is stale.
//! - [`sweep_prices`]: cleanup of expired records and old history points.

mod error;
mod freshness;
mod price;
mod price_cache;
mod price_sweep;

pub use error::CacheError;
pub use freshness::Freshness;
pub use price::{HistoryPoint, PriceRecord};
pub use price_cache::{PriceCache, WriteOutcome};
pub use price_sweep::{PriceSweep, sweep_prices};
