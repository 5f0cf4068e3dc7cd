//! `GET /sim/etherscan/ledger/{address}[?chainid=N]` (chain 1 by default): the sim's own totals of an address's ledger, computed
//! from the ledger itself, so a worker's analysis of the paged API can be checked against them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::address::Address;
use super::ledger::Ledger;
use crate::state::SimState;

/// Totals of one address's ledger. Wei and raw token units are decimal strings (they pass u64);
/// counts, blocks and timestamps are numbers; timestamps are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerSummary {
    pub chainid: u64,
    /// Lowercase.
    pub address: String,
    /// `empty` (address ends in `0`), `busy` (ends in `f`) or `few`.
    pub profile: String,
    /// What `action=balance` answers: `eth_in_wei - eth_out_wei - fees_wei`.
    pub balance_wei: String,
    pub normal: NormalTotals,
    pub token: TokenTotals,
    /// Distinct other addresses over normal transactions and token transfers.
    pub counterparties: u64,
}

/// Over `txlist`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalTotals {
    pub count: u64,
    /// Transactions with `isError` "1": their value did not move, their fee was paid.
    pub failed: u64,
    pub incoming: u64,
    pub outgoing: u64,
    pub first_block: Option<u64>,
    pub last_block: Option<u64>,
    pub first_timestamp: Option<u64>,
    pub last_timestamp: Option<u64>,
    /// Value received by successful transactions.
    pub eth_in_wei: String,
    /// Value sent by successful transactions.
    pub eth_out_wei: String,
    /// `gasUsed * gasPrice` of every outgoing transaction, failed ones included.
    pub fees_wei: String,
    /// `eth_in_wei - eth_out_wei - fees_wei` (may carry a minus sign in general; never here).
    pub net_wei: String,
    pub counterparties: u64,
}

/// Over `tokentx`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenTotals {
    pub count: u64,
    pub first_timestamp: Option<u64>,
    pub last_timestamp: Option<u64>,
    pub counterparties: u64,
    /// By lowercase contract address.
    pub tokens: BTreeMap<String, TokenNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenNet {
    pub symbol: String,
    pub name: String,
    pub decimals: u32,
    pub transfers: u64,
    /// Raw units (divide by 10^decimals).
    pub in_raw: String,
    pub out_raw: String,
    pub net_raw: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LedgerQuery {
    chainid: Option<u64>,
}

pub(crate) async fn ledger(
    State(state): State<Arc<SimState>>,
    Path(address): Path<String>,
    query: Result<Query<LedgerQuery>, QueryRejection>,
) -> Response {
    let chain = match query {
        Ok(Query(LedgerQuery { chainid })) => chainid.unwrap_or(1),
        Err(_) => 0,
    };
    if !super::SUPPORTED_CHAINS.contains(&chain) {
        return refuse("unsupported chainid");
    }
    match Address::parse(&address) {
        Some(address) => Json(summarize(&state.ledgers.get(chain, &address))).into_response(),
        None => refuse("invalid address"),
    }
}

fn refuse(error: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": error })),
    )
        .into_response()
}

pub(crate) fn summarize(ledger: &Ledger) -> LedgerSummary {
    let us = &ledger.address;
    let mut all_counterparties = BTreeSet::new();
    let (mut eth_in, mut eth_out, mut fees) = (0u128, 0u128, 0u128);
    let (mut failed, mut incoming) = (0, 0);
    let mut normal_counterparties = BTreeSet::new();
    for tx in &ledger.normal {
        let b = &tx.base;
        let moved = if tx.failed { 0 } else { tx.value_wei };
        failed += u64::from(tx.failed);
        if b.to == *us {
            incoming += 1;
            eth_in += moved;
            normal_counterparties.insert(b.from.clone());
        } else {
            eth_out += moved;
            fees += u128::from(b.gas_used) * u128::from(b.gas_price);
            normal_counterparties.insert(b.to.clone());
        }
    }
    let mut tokens: BTreeMap<String, (TokenNet, u128, u128)> = BTreeMap::new();
    let mut token_counterparties = BTreeSet::new();
    for t in &ledger.tokens {
        let entry = tokens
            .entry(t.token.contract.to_owned())
            .or_insert_with(|| {
                let net = TokenNet {
                    symbol: t.token.symbol.to_owned(),
                    name: t.token.name.to_owned(),
                    decimals: t.token.decimals,
                    transfers: 0,
                    in_raw: String::new(),
                    out_raw: String::new(),
                    net_raw: String::new(),
                };
                (net, 0, 0)
            });
        entry.0.transfers += 1;
        if t.base.to == *us {
            entry.1 += t.value_raw;
            token_counterparties.insert(t.base.from.clone());
        } else {
            entry.2 += t.value_raw;
            token_counterparties.insert(t.base.to.clone());
        }
    }
    all_counterparties.extend(normal_counterparties.iter().cloned());
    all_counterparties.extend(token_counterparties.iter().cloned());
    let count = ledger.normal.len() as u64;
    LedgerSummary {
        chainid: ledger.chain,
        address: us.to_string(),
        profile: ledger.profile.label().to_owned(),
        balance_wei: ledger.balance_wei.to_string(),
        normal: NormalTotals {
            count,
            failed,
            incoming,
            outgoing: count - incoming,
            first_block: ledger.normal.first().map(|t| t.base.block),
            last_block: ledger.normal.last().map(|t| t.base.block),
            first_timestamp: ledger.normal.first().map(|t| t.base.timestamp),
            last_timestamp: ledger.normal.last().map(|t| t.base.timestamp),
            eth_in_wei: eth_in.to_string(),
            eth_out_wei: eth_out.to_string(),
            fees_wei: fees.to_string(),
            net_wei: signed(eth_in, eth_out + fees),
            counterparties: normal_counterparties.len() as u64,
        },
        token: TokenTotals {
            count: ledger.tokens.len() as u64,
            first_timestamp: ledger.tokens.first().map(|t| t.base.timestamp),
            last_timestamp: ledger.tokens.last().map(|t| t.base.timestamp),
            counterparties: token_counterparties.len() as u64,
            tokens: tokens
                .into_iter()
                .map(|(contract, (mut net, inflow, outflow))| {
                    net.in_raw = inflow.to_string();
                    net.out_raw = outflow.to_string();
                    net.net_raw = signed(inflow, outflow);
                    (contract, net)
                })
                .collect(),
        },
        counterparties: all_counterparties.len() as u64,
    }
}

/// `plus - minus` as decimal text, exact beyond i128's range concerns of u128 inputs.
fn signed(plus: u128, minus: u128) -> String {
    if plus >= minus {
        (plus - minus).to_string()
    } else {
        format!("-{}", minus - plus)
    }
}
