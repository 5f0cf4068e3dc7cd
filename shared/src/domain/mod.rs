//! Domain types, parsed once at the edge; inner code never takes a raw `String` for these.

mod address;
mod chain;
mod coin_id;
mod currency;
mod symbol;
mod units;

pub use address::{Address, AddressError};
pub use chain::{Chain, ChainError};
pub use coin_id::{CoinId, CoinIdError};
pub use currency::{Currency, CurrencyError};
pub use symbol::{Symbol, SymbolError};
pub use units::{MAX_UNITS_DIGITS, Units, UnitsError};
