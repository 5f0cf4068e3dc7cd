//! The coin catalogue: every coin the upstreams list, with its id, symbol, name, rank, market
//! cap and contract addresses, so a coin can be named by id (`bitcoin`) or by symbol (`BTC`)
//! and prices can be kept for the whole market in rank tiers.
//!
//! - [`CatalogueCoin`]: one coin as stored.
//! - [`CatalogueStore`]: the catalogue in Redis, replaced whole by each refresh (the
//!   `catalogue` queue's job writes it; everyone else reads it).
//! - [`CoinIndex`]: an in-process copy with lookups: by id, by symbol (collisions resolve to
//!   the pinned coin, else the top-ranked one), and a ranked name/symbol prefix search.
//! - [`CatalogueCache`]: a process's indexed copy, reloaded only when a refresh replaced it.

mod cache;
mod coin;
mod index;
mod store;

pub use cache::{Alternative, Catalogue, CatalogueCache, NamedCoin};
pub use coin::{CatalogueCoin, normalize_symbol};
pub use index::{CoinIndex, Lookup, Matched, NotCatalogued};
pub use store::{CatalogueError, CatalogueMeta, CatalogueStore, Written};
