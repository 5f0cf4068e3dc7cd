//! The cached analysis of one wallet.
//!
//! Amounts are exact decimal strings: wei and raw token units as integers, coin and token
//! amounts with their decimals applied by integer arithmetic. An ERC-20 amount can be any
//! uint256 (up to 78 digits), past what `u128` or `Decimal` hold, so the record keeps digits,
//! not numbers. Only the USD value is a `Decimal` (a product of two decimals, like a price).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Address, Chain, Symbol};

/// One wallet's analysis as the wallet worker computed it from Etherscan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalletAnalysis {
    pub chain: Chain,
    /// Lowercase; the API shows the EIP-55 form next to it.
    pub address: Address,
    /// The chain's native coin (`ETH` on Ethereum).
    pub native_symbol: Symbol,
    /// Balance in wei, decimal digits.
    pub balance_wei: String,
    /// Balance in the native coin, exact (`balance_wei` / 10^18), e.g. `"1.5"`.
    pub balance: String,
    /// `balance` × the cached USD price of `native_symbol`; absent when no price is cached.
    pub balance_usd: Option<Decimal>,
    /// The cached price used for `balance_usd`, and when it was fetched (its own age).
    pub native_usd_price: Option<Decimal>,
    pub native_price_fetched_at: Option<DateTime<Utc>>,
    /// Normal transactions read (failed ones included).
    pub transaction_count: u64,
    /// ERC-20 transfers read.
    pub token_transfer_count: u64,
    /// Timestamps of the oldest and newest transaction or token transfer read.
    pub first_activity_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Native coin received and sent by successful transactions read, exact.
    pub total_received: String,
    pub total_sent: String,
    /// Tokens with a positive net amount (received − sent over the transfers read).
    pub tokens: Vec<TokenHolding>,
    /// The addresses this wallet transacted with most (normal transactions), most first.
    pub top_counterparties: Vec<Counterparty>,
    pub flags: WalletFlags,
    /// False when a list reached the page bound (`wallets.max_pages` × `wallets.page_size`):
    /// counts, totals and holdings then cover the newest transactions only.
    pub complete: bool,
    /// Requests made to the upstream for this analysis.
    pub upstream_requests: u32,
    /// When the worker finished reading the upstream: the order of records and their age.
    pub fetched_at: DateTime<Utc>,
    /// Which upstream it came from: `etherscan`.
    pub source: String,
}

/// One ERC-20 token netted from the wallet's transfers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenHolding {
    pub contract: Address,
    pub symbol: String,
    pub name: String,
    pub decimals: u32,
    /// Received − sent, in the token's smallest unit (decimal digits).
    pub raw_amount: String,
    /// `raw_amount` / 10^decimals, exact.
    pub amount: String,
    /// Transfers of this token read.
    pub transfers: u64,
}

/// An address the wallet transacted with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counterparty {
    pub address: Address,
    /// Normal transactions between the two, either direction.
    pub transactions: u64,
    /// Native coin this wallet sent to it, and received from it (successful transactions), exact.
    pub sent: String,
    pub received: String,
}

/// Simple risk flags; the thresholds are `[wallets]` settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalletFlags {
    /// No activity for `dormant_after_days` (or none at all).
    pub dormant: bool,
    /// First activity at most `new_within_days` ago.
    pub new: bool,
    /// Sent at least `high_outflow_pct`% of (balance + that outflow) within
    /// `outflow_window_days`.
    pub high_outflow: bool,
    /// The address is a contract: its creation transaction is among those read.
    pub contract: bool,
}
