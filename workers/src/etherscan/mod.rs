//! The Etherscan API V2 client: the only code that speaks Etherscan's wire format.
//!
//! - [`Etherscan`]: `GET {base}/v2/api?chainid=..&module=account&action=..&apikey=..`, with the
//!   envelope read and its `status: "0"` quirks sorted out.
//! - [`EtherscanError`]: what went wrong, classified for retries (a rate-limit body throttles,
//!   a missing or refused key is permanent, 5xx and transport trouble are transient).
//! - [`NormalTx`], [`TokenTransfer`]: rows of `txlist` and `tokentx`, parsed at the edge
//!   (every number arrives as a string; amounts become exact [`Units`](coinbeat_shared::domain::Units)).

mod client;
mod error;
mod rows;

pub use client::{Etherscan, Page};
pub use error::EtherscanError;
pub use rows::{NormalTx, TokenTransfer};
