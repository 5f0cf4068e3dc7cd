//! Rows of Etherscan's `txlist` and `tokentx` lists, read at the edge: every number arrives as
//! a string and becomes a typed value here (amounts as exact [`Units`], times as UTC), and
//! addresses become [`Address`]es (Etherscan sends them lowercase; `to` is `""` for a contract
//! deployment).

use chrono::{DateTime, Utc};
use coinbeat_shared::domain::{Address, Units};
use serde::Deserialize;

/// One normal (external) transaction of `txlist`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalTx {
    pub block: u64,
    pub timestamp: DateTime<Utc>,
    pub hash: String,
    pub from: Address,
    /// `None` for a contract deployment.
    pub to: Option<Address>,
    /// Wei.
    pub value: Units,
    /// `isError: "1"`: the transaction reverted; no value moved.
    pub failed: bool,
    /// The contract a deployment created.
    pub contract_created: Option<Address>,
}

/// One ERC-20 transfer of `tokentx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTransfer {
    pub block: u64,
    pub timestamp: DateTime<Utc>,
    pub hash: String,
    pub from: Address,
    pub to: Option<Address>,
    /// The token's contract.
    pub contract: Address,
    /// Raw units (divide by 10^`decimals`).
    pub value: Units,
    pub token_name: String,
    pub token_symbol: String,
    pub decimals: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTx {
    block_number: String,
    time_stamp: String,
    #[serde(default)]
    hash: String,
    from: String,
    #[serde(default)]
    to: String,
    value: String,
    #[serde(default)]
    is_error: String,
    #[serde(default)]
    contract_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTransfer {
    block_number: String,
    time_stamp: String,
    #[serde(default)]
    hash: String,
    from: String,
    #[serde(default)]
    to: String,
    contract_address: String,
    value: String,
    #[serde(default)]
    token_name: String,
    #[serde(default)]
    token_symbol: String,
    token_decimal: String,
}

/// Most decimals a token may declare; more is nonsense (uint8 allows 255) and would print
/// hundreds of zeros.
const MAX_TOKEN_DECIMALS: u32 = 77;

fn number(field: &str, value: &str) -> Result<u64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("`{field}` is not a whole number: {value:?}"))
}

fn time(value: &str) -> Result<DateTime<Utc>, String> {
    let secs = number("timeStamp", value)?;
    i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| format!("`timeStamp` is out of range: {value:?}"))
}

fn address(field: &str, value: &str) -> Result<Address, String> {
    Address::parse(value).map_err(|e| format!("`{field}`: {e}"))
}

fn optional_address(field: &str, value: &str) -> Result<Option<Address>, String> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        address(field, value).map(Some)
    }
}

fn amount(value: &str) -> Result<Units, String> {
    Units::parse(value).map_err(|e| format!("`value`: {e}"))
}

/// Reads `txlist`'s rows.
pub(super) fn normal_txs(rows: serde_json::Value) -> Result<Vec<NormalTx>, String> {
    let raw: Vec<RawTx> =
        serde_json::from_value(rows).map_err(|e| format!("unreadable txlist row: {e}"))?;
    raw.into_iter()
        .map(|r| {
            Ok(NormalTx {
                block: number("blockNumber", &r.block_number)?,
                timestamp: time(&r.time_stamp)?,
                hash: r.hash,
                from: address("from", &r.from)?,
                to: optional_address("to", &r.to)?,
                value: amount(&r.value)?,
                failed: r.is_error.trim() == "1",
                contract_created: optional_address("contractAddress", &r.contract_address)?,
            })
        })
        .collect()
}

/// Reads `tokentx`'s rows.
pub(super) fn token_transfers(rows: serde_json::Value) -> Result<Vec<TokenTransfer>, String> {
    let raw: Vec<RawTransfer> =
        serde_json::from_value(rows).map_err(|e| format!("unreadable tokentx row: {e}"))?;
    raw.into_iter()
        .map(|r| {
            let decimals = number("tokenDecimal", &r.token_decimal)?;
            let decimals = u32::try_from(decimals)
                .ok()
                .filter(|d| *d <= MAX_TOKEN_DECIMALS)
                .ok_or_else(|| format!("`tokenDecimal` is out of range: {}", r.token_decimal))?;
            Ok(TokenTransfer {
                block: number("blockNumber", &r.block_number)?,
                timestamp: time(&r.time_stamp)?,
                hash: r.hash,
                from: address("from", &r.from)?,
                to: optional_address("to", &r.to)?,
                contract: address("contractAddress", &r.contract_address)?,
                value: amount(&r.value)?,
                token_name: r.token_name,
                token_symbol: r.token_symbol,
                decimals,
            })
        })
        .collect()
}
