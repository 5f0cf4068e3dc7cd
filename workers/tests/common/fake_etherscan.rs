//! A fake Etherscan API V2 on wiremock for the client and worker tests: a ledger of one
//! wallet's transactions and token transfers served page by page (newest first, every number a
//! string, `status: "0"` + "No transactions found" past the end), plus canned error bodies.

#![allow(dead_code)] // Each test binary uses a different part.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, Respond, ResponseTemplate,
    matchers::{method, path, query_param},
};

pub const KEY: &str = "TESTKEY123";
pub const WALLET: &str = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
pub const ALICE: &str = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359";
pub const BOB: &str = "0xdbf03b407c01e7cd3cbea99509d93f8dddc8c6fb";
pub const USDC: &str = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";

/// `txlist` row in Etherscan's shape.
pub fn tx(n: u64, from: &str, to: &str, wei: &str, timestamp: u64) -> Value {
    json!({
        "blockNumber": (20_000_000 + n).to_string(), "blockHash": format!("0xb{n:063x}"),
        "timeStamp": timestamp.to_string(), "hash": format!("0x{n:064x}"), "nonce": n.to_string(),
        "transactionIndex": "3", "from": from, "to": to, "value": wei, "gas": "21000",
        "gasPrice": "238744402", "input": "0x", "methodId": "0x", "functionName": "",
        "contractAddress": "", "cumulativeGasUsed": "22498564", "txreceipt_status": "1",
        "gasUsed": "21000", "confirmations": "589", "isError": "0"
    })
}

/// `tokentx` row in Etherscan's shape.
pub fn transfer(
    n: u64,
    from: &str,
    to: &str,
    contract: &str,
    value: &str,
    decimals: u32,
    timestamp: u64,
) -> Value {
    json!({
        "blockNumber": (20_000_000 + n).to_string(), "timeStamp": timestamp.to_string(),
        "hash": format!("0x{:064x}", 1_000_000 + n), "nonce": "406", "blockHash": "0x022c",
        "from": from, "contractAddress": contract, "to": to, "value": value,
        "tokenName": "USD Coin", "tokenSymbol": "USDC", "tokenDecimal": decimals.to_string(),
        "transactionIndex": "81", "gas": "940000", "gasPrice": "32010000000",
        "gasUsed": "77759", "cumulativeGasUsed": "2523379", "input": "deprecated",
        "confirmations": "7968350"
    })
}

pub fn no_transactions() -> Value {
    json!({"status": "0", "message": "No transactions found", "result": []})
}

pub fn refusal(text: &str) -> Value {
    json!({"status": "0", "message": "NOTOK", "result": text})
}

/// The query of every request served, in order.
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// One wallet's ledger; rows are kept newest first, as `sort=desc` serves them.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub balance_wei: String,
    pub txs: Vec<Value>,
    pub transfers: Vec<Value>,
}

/// Serves a [`Ledger`] and records every request's query.
#[derive(Debug, Clone)]
pub struct LedgerResponder {
    ledger: Arc<Ledger>,
    seen: Seen,
}

impl Respond for LedgerResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        self.seen.lock().unwrap().push(query.clone());
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let body = match get("action").as_str() {
            "balance" => json!({"status": "1", "message": "OK", "result": self.ledger.balance_wei}),
            action @ ("txlist" | "tokentx") => {
                let rows = if action == "txlist" {
                    &self.ledger.txs
                } else {
                    &self.ledger.transfers
                };
                let page: usize = get("page").parse().unwrap_or(1);
                let size: usize = get("offset").parse().unwrap_or(10_000);
                let start = (page - 1) * size;
                let slice: Vec<&Value> = rows.iter().skip(start).take(size).collect();
                if slice.is_empty() {
                    no_transactions()
                } else {
                    json!({"status": "1", "message": "OK", "result": slice})
                }
            }
            other => refusal(&format!("Error! Missing Or invalid Action name {other}")),
        };
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// A wiremock server serving `ledger` at `/v2/api` for requests carrying [`KEY`].
pub struct FakeEtherscan {
    pub server: MockServer,
    seen: Seen,
}

impl FakeEtherscan {
    pub async fn serving(ledger: Ledger) -> Self {
        let server = MockServer::start().await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        Mock::given(method("GET"))
            .and(path("/v2/api"))
            .and(query_param("apikey", KEY))
            .respond_with(LedgerResponder {
                ledger: Arc::new(ledger),
                seen: seen.clone(),
            })
            .mount(&server)
            .await;
        Self { server, seen }
    }

    /// An empty server: tests mount their own mocks.
    pub async fn bare() -> Self {
        Self {
            server: MockServer::start().await,
            seen: Arc::default(),
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// `(action, page)` of every request served from the ledger, in order.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|q| {
                let get = |name: &str| {
                    q.iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                (get("action"), get("page"))
            })
            .collect()
    }
}
