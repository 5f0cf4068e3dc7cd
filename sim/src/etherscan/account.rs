//! `module=account`: `balance`, `balancemulti` (up to 20 addresses), `txlist` and `tokentx` over
//! an address's [`Ledger`], rows in
//! Etherscan's field order with every number a string and addresses lowercase.

use std::collections::HashMap;

use axum::response::Response;
use serde::Serialize;

use super::address::Address;
use super::ledger::{Ledger, NormalTx, TokenTransfer, block_hash, confirmations};
use super::pagination::{Paging, PagingError};
use super::responses;
use crate::state::SimState;

/// The selector and signature of the calls normal transactions make.
const TRANSFER_SELECTOR: &str = "0xa9059cbb";
const TRANSFER_SIGNATURE: &str = "transfer(address _to, uint256 _value)";
/// `balancemulti` takes at most this many addresses.
const MAX_MULTI: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Balance,
    BalanceMulti,
    TxList,
    TokenTx,
}

impl Action {
    pub(super) fn parse(raw: Option<&str>) -> Option<Self> {
        match raw? {
            "balance" => Some(Self::Balance),
            "balancemulti" => Some(Self::BalanceMulti),
            "txlist" => Some(Self::TxList),
            "tokentx" => Some(Self::TokenTx),
            _ => None,
        }
    }
}

pub(super) fn answer(
    state: &SimState,
    chain: u64,
    action: Action,
    params: &HashMap<String, String>,
) -> Response {
    if action == Action::BalanceMulti {
        return balance_multi(
            state,
            chain,
            params.get("address").map_or("", String::as_str),
        );
    }
    let Some(address) = params.get("address").and_then(|a| Address::parse(a)) else {
        return responses::notok(responses::INVALID_ADDRESS);
    };
    let ledger = state.ledgers.get(chain, &address);
    if action == Action::Balance {
        return responses::ok(ledger.balance_wei.to_string());
    }
    let paging = match Paging::parse(params) {
        Ok(paging) => paging,
        Err(PagingError::Invalid) => return responses::notok(responses::INVALID_PARAMETER),
        Err(PagingError::WindowTooLarge) => {
            return responses::notok(responses::WINDOW_TOO_LARGE);
        }
    };
    let rows: Vec<Row> = match action {
        Action::TxList => paging
            .select(&ledger.normal, |tx| tx.base.block)
            .into_iter()
            .map(|tx| Row::Normal(normal_row(state.seed, tx)))
            .collect(),
        _ => {
            let contract = params
                .get("contractaddress")
                .and_then(|c| Address::parse(c));
            let transfers = filtered(&ledger, contract.as_ref());
            paging
                .select(&transfers, |t| t.base.block)
                .into_iter()
                .map(|t| Row::Token(token_row(state.seed, t)))
                .collect()
        }
    };
    if rows.is_empty() {
        responses::no_transactions()
    } else {
        responses::ok(rows)
    }
}

#[derive(Debug, Serialize)]
struct AccountBalance {
    account: String,
    balance: String,
}

fn balance_multi(state: &SimState, chain: u64, raw: &str) -> Response {
    let addresses: Option<Vec<Address>> = raw.split(',').map(Address::parse).collect();
    match addresses {
        Some(addresses) if !addresses.is_empty() && addresses.len() <= MAX_MULTI => {
            let balances: Vec<AccountBalance> = addresses
                .iter()
                .map(|address| AccountBalance {
                    account: address.to_string(),
                    balance: state.ledgers.get(chain, address).balance_wei.to_string(),
                })
                .collect();
            responses::ok(balances)
        }
        _ => responses::notok(responses::INVALID_ADDRESS),
    }
}

fn filtered(ledger: &Ledger, contract: Option<&Address>) -> Vec<TokenTransfer> {
    ledger
        .tokens
        .iter()
        .filter(|t| contract.is_none_or(|c| c.as_str() == t.token.contract))
        .cloned()
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Row {
    Normal(NormalRow),
    Token(TokenRow),
}

/// A `txlist` row, keys in the order of providers.md §2.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NormalRow {
    block_number: String,
    block_hash: String,
    time_stamp: String,
    hash: String,
    nonce: String,
    transaction_index: String,
    from: String,
    to: String,
    value: String,
    gas: String,
    gas_price: String,
    input: String,
    method_id: String,
    function_name: String,
    contract_address: String,
    cumulative_gas_used: String,
    #[serde(rename = "txreceipt_status")]
    txreceipt_status: String,
    gas_used: String,
    confirmations: String,
    is_error: String,
}

/// A `tokentx` row, keys in the order of providers.md §2.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenRow {
    block_number: String,
    time_stamp: String,
    hash: String,
    nonce: String,
    block_hash: String,
    from: String,
    contract_address: String,
    to: String,
    value: String,
    token_name: String,
    token_symbol: String,
    token_decimal: String,
    transaction_index: String,
    gas: String,
    gas_price: String,
    gas_used: String,
    cumulative_gas_used: String,
    input: String,
    confirmations: String,
}

fn normal_row(seed: u64, tx: &NormalTx) -> NormalRow {
    let b = &tx.base;
    let (input, method_id, function_name) = if tx.call {
        // transfer(to, amount): the arguments padded to 32 bytes each.
        let to = b.to.as_str().trim_start_matches("0x");
        let input = format!("{TRANSFER_SELECTOR}{to:0>64}{:064x}", b.nonce + 1);
        (input, TRANSFER_SELECTOR, TRANSFER_SIGNATURE)
    } else {
        ("0x".to_owned(), "0x", "")
    };
    NormalRow {
        block_number: b.block.to_string(),
        block_hash: block_hash(seed, b.block),
        time_stamp: b.timestamp.to_string(),
        hash: b.hash.clone(),
        nonce: b.nonce.to_string(),
        transaction_index: b.index.to_string(),
        from: b.from.to_string(),
        to: b.to.to_string(),
        value: tx.value_wei.to_string(),
        gas: b.gas.to_string(),
        gas_price: b.gas_price.to_string(),
        input,
        method_id: method_id.to_owned(),
        function_name: function_name.to_owned(),
        contract_address: String::new(),
        cumulative_gas_used: b.cumulative_gas_used.to_string(),
        txreceipt_status: if tx.failed { "0" } else { "1" }.to_owned(),
        gas_used: b.gas_used.to_string(),
        confirmations: confirmations(b.block).to_string(),
        is_error: if tx.failed { "1" } else { "0" }.to_owned(),
    }
}

fn token_row(seed: u64, t: &TokenTransfer) -> TokenRow {
    let b = &t.base;
    TokenRow {
        block_number: b.block.to_string(),
        time_stamp: b.timestamp.to_string(),
        hash: b.hash.clone(),
        nonce: b.nonce.to_string(),
        block_hash: block_hash(seed, b.block),
        from: b.from.to_string(),
        contract_address: t.token.contract.to_owned(),
        to: b.to.to_string(),
        value: t.value_raw.to_string(),
        token_name: t.token.name.to_owned(),
        token_symbol: t.token.symbol.to_owned(),
        token_decimal: t.token.decimals.to_string(),
        transaction_index: b.index.to_string(),
        gas: b.gas.to_string(),
        gas_price: b.gas_price.to_string(),
        gas_used: b.gas_used.to_string(),
        cumulative_gas_used: b.cumulative_gas_used.to_string(),
        // Literally "deprecated" on token-transfer endpoints.
        input: "deprecated".to_owned(),
        confirmations: confirmations(b.block).to_string(),
    }
}
