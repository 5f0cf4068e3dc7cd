//! History that lasts: every coin's metadata and its price snapshots in PostgreSQL, for years.
//!
//! Redis keeps each coin's recent points (`prices.history_points`, a week at 5-minute steps by
//! default); this crate keeps everything past them, written by the history worker and read by
//! the API. Optional: without `DATABASE_URL` nothing here runs.
//!
//! - [`HistoryStore`] (`store.rs`): the pool (lazy: a process starts with PostgreSQL down), the
//!   migrations in `history/migrations/` applied once per process, the month partitions.
//! - [`Snapshot`], [`HistoryStore::write_snapshots`] (`snapshots.rs`): batched, each row at most
//!   once (a re-delivered job adds nothing).
//! - [`Candle`], [`HistoryStore::candles`] (`candles.rs`): OHLC computed in SQL.
//! - [`CoinMeta`], [`HistoryStore::write_coins`] (`coins.rs`): the catalogue's metadata, newest
//!   wins.
//! - [`Progress`], [`HistoryStore::store_backfill_chunk`] (`backfill.rs`): a backfill's chunks
//!   stored with its progress in one transaction, so it resumes and never fetches twice.
//! - [`HistoryError`] (`error.rs`): which failures are transient.

mod backfill;
mod candles;
mod coins;
mod error;
mod snapshots;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use backfill::Progress;
pub use candles::{Candle, candles_of};
pub use coins::CoinMeta;
pub use error::HistoryError;
pub use snapshots::{BATCH_ROWS, Snapshot, StoredPoint, Written};
pub use store::{Connect, HistoryStore};
