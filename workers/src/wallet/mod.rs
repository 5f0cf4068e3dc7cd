//! The `wallet` queue: one wallet's analysis from Etherscan, cached newest-wins.
//!
//! - [`WalletWorker`]: balance, then the transaction and ERC-20 transfer lists page by page up
//!   to the configured bound, then the analysis written through `WalletCache`.
//! - [`analyse`]: the analysis itself, a pure function of what was read (integer wei and token
//!   arithmetic, never floats), so it is tested without any I/O.

mod analysis;
mod worker;

pub use analysis::{Inputs, analyse};
pub use worker::{SOURCE, WalletWorker};
