//! Etherscan V2 under `/etherscan` over real HTTP: the envelope, empty ledgers, key and chain
//! errors, the per-second limit, and pages that add up to the sim's own ledger totals.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use coinbeat_sim::{Faults, LedgerSummary, SimConfig, SimHandle};
use common::{fetch, fetch_json, sim_get, start};
use serde_json::{Value, json};

const EMPTY: &str = "0xabcdefabcdefabcdefabcdefabcdefabcdefab00";
const FEW: &str = "0xAbCdEfabcdefabcdefabcdefabcdefabcdefab07";

fn busy() -> String {
    // 40 hex digits ending in `f`.
    format!("0x{}f", "1234567890".repeat(4).get(..39).unwrap())
}

async fn unlimited_sim(seed: u64) -> SimHandle {
    start(SimConfig {
        seed,
        step_ms: 0,
        faults: Faults {
            etherscan_calls_per_sec: 0,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
}

async fn call(sim: &SimHandle, params: &[(&str, &str)]) -> Value {
    let mut query = vec![("chainid", "1"), ("module", "account"), ("apikey", "k")];
    query.extend_from_slice(params);
    fetch_json(&format!("{}/v2/api", sim.etherscan_url()), &query).await
}

async fn ledger(sim: &SimHandle, address: &str) -> LedgerSummary {
    sim_get(sim, &format!("/sim/etherscan/ledger/{address}")).await
}

#[tokio::test]
async fn an_address_without_transactions_gets_status_0_and_an_empty_array() {
    let sim = unlimited_sim(1).await;

    let txs = call(&sim, &[("action", "txlist"), ("address", EMPTY)]).await;
    let tokens = call(&sim, &[("action", "tokentx"), ("address", EMPTY)]).await;
    let balance = call(&sim, &[("action", "balance"), ("address", EMPTY)]).await;

    let none = json!({"status":"0","message":"No transactions found","result":[]});
    assert_eq!(txs, none);
    assert_eq!(tokens, none);
    assert_eq!(balance, json!({"status":"1","message":"OK","result":"0"}));
    assert_eq!(ledger(&sim, EMPTY).await.profile, "empty");
}

#[tokio::test]
async fn rows_carry_every_number_as_a_string_and_addresses_in_lowercase() {
    let sim = unlimited_sim(1).await;

    let txs = call(&sim, &[("action", "txlist"), ("address", FEW)]).await;

    assert_eq!(txs["status"], "1");
    assert_eq!(txs["message"], "OK");
    let rows = txs["result"].as_array().unwrap();
    assert!(!rows.is_empty());
    let lower = FEW.to_lowercase();
    for row in rows {
        let row = row.as_object().unwrap();
        assert!(row.values().all(Value::is_string), "{row:?}");
        assert!(row["from"] == lower.as_str() || row["to"] == lower.as_str());
        for key in ["from", "to"] {
            let address = row[key].as_str().unwrap();
            assert_eq!(address, address.to_lowercase());
        }
        for key in ["blockNumber", "timeStamp", "value", "gasUsed", "isError"] {
            assert!(row[key].as_str().unwrap().parse::<u128>().is_ok(), "{key}");
        }
    }
    let keys: BTreeSet<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "blockHash",
        "txreceipt_status",
        "methodId",
        "functionName",
        "confirmations",
    ] {
        assert!(keys.contains(key), "{key}");
    }
}

#[tokio::test]
async fn pages_of_a_busy_address_add_up_to_the_ledger() {
    let sim = unlimited_sim(2).await;
    let address = busy();
    let summary = ledger(&sim, &address).await;
    assert_eq!(summary.profile, "busy");

    let mut txs = Vec::new();
    for page in 1.. {
        let page = page.to_string();
        let body = call(
            &sim,
            &[
                ("action", "txlist"),
                ("address", &address),
                ("page", &page),
                ("offset", "1000"),
                ("sort", "asc"),
            ],
        )
        .await;
        if body["status"] == "0" {
            assert_eq!(body["message"], "No transactions found");
            break;
        }
        txs.extend(body["result"].as_array().unwrap().iter().cloned());
    }
    let mut transfers = Vec::new();
    for page in 1..=4 {
        let page = page.to_string();
        let body = call(
            &sim,
            &[
                ("action", "tokentx"),
                ("address", &address),
                ("page", &page),
                ("offset", "100"),
            ],
        )
        .await;
        if let Some(rows) = body["result"].as_array() {
            transfers.extend(rows.iter().cloned());
        }
    }
    let balance = call(&sim, &[("action", "balance"), ("address", &address)]).await;

    assert_eq!(txs.len(), 2_500);
    assert_eq!(summary.normal.count, 2_500);
    let hashes: BTreeSet<&str> = txs.iter().map(|t| t["hash"].as_str().unwrap()).collect();
    assert_eq!(hashes.len(), 2_500, "no row twice across pages");
    let int = |row: &Value, key: &str| row[key].as_str().unwrap().parse::<u128>().unwrap();
    let (mut eth_in, mut eth_out, mut fees) = (0u128, 0u128, 0u128);
    for tx in &txs {
        let moved = if tx["isError"] == "1" {
            0
        } else {
            int(tx, "value")
        };
        if tx["to"] == address.as_str() {
            eth_in += moved;
        } else {
            eth_out += moved;
            fees += int(tx, "gasUsed") * int(tx, "gasPrice");
        }
    }
    assert_eq!(eth_in.to_string(), summary.normal.eth_in_wei);
    assert_eq!(eth_out.to_string(), summary.normal.eth_out_wei);
    assert_eq!(fees.to_string(), summary.normal.fees_wei);
    assert_eq!((eth_in - eth_out - fees).to_string(), summary.balance_wei);
    assert_eq!(balance["result"], summary.balance_wei.as_str());
    let first = txs[0]["timeStamp"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert_eq!(Some(first), summary.normal.first_timestamp);

    assert_eq!(transfers.len(), 300);
    let mut net: BTreeMap<String, i128> = BTreeMap::new();
    let mut decimals = BTreeSet::new();
    for t in &transfers {
        let value = int(t, "value") as i128;
        let signed = if t["to"] == address.as_str() {
            value
        } else {
            -value
        };
        *net.entry(t["contractAddress"].as_str().unwrap().to_owned())
            .or_default() += signed;
        decimals.insert(t["tokenDecimal"].as_str().unwrap().to_owned());
        assert_eq!(t["input"], "deprecated");
    }
    assert!(net.len() >= 3);
    assert_eq!(decimals, ["18", "6", "8"].map(String::from).into());
    for (contract, total) in &summary.token.tokens {
        assert_eq!(net[contract].to_string(), total.net_raw, "{}", total.symbol);
    }
}

#[tokio::test]
async fn descending_order_block_ranges_and_the_10000_window() {
    let sim = unlimited_sim(2).await;
    let address = busy();
    let page = |sort: &'static str| {
        let address = address.clone();
        let sim = &sim;
        async move {
            call(
                sim,
                &[
                    ("action", "txlist"),
                    ("address", &address),
                    ("page", "1"),
                    ("offset", "5"),
                    ("sort", sort),
                ],
            )
            .await
        }
    };

    let asc = page("asc").await;
    let desc = page("desc").await;
    let too_far = call(
        &sim,
        &[
            ("action", "txlist"),
            ("address", &address),
            ("page", "11"),
            ("offset", "1000"),
        ],
    )
    .await;
    let summary = ledger(&sim, &address).await;
    let last_block = summary.normal.last_block.unwrap().to_string();
    let ranged = call(
        &sim,
        &[
            ("action", "txlist"),
            ("address", &address),
            ("startblock", &last_block),
            ("endblock", &last_block),
        ],
    )
    .await;

    let blocks = |body: &Value| -> Vec<u64> {
        body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["blockNumber"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    assert!(blocks(&asc).is_sorted());
    let mut newest = blocks(&desc);
    newest.reverse();
    assert!(newest.is_sorted());
    assert_eq!(blocks(&desc)[0], summary.normal.last_block.unwrap());
    assert_eq!(too_far["status"], "0");
    assert_eq!(too_far["message"], "NOTOK");
    assert!(
        too_far["result"]
            .as_str()
            .unwrap()
            .starts_with("Result window is too large")
    );
    assert_eq!(blocks(&ranged), [summary.normal.last_block.unwrap()]);
}

#[tokio::test]
async fn keys_chains_and_the_v1_path_are_refused_inside_http_200() {
    let sim = start(SimConfig {
        step_ms: 0,
        api_keys: vec!["good".to_owned()],
        ..SimConfig::default()
    })
    .await;
    let v2 = format!("{}/v2/api", sim.etherscan_url());
    let base = [
        ("module", "account"),
        ("action", "balance"),
        ("address", FEW),
    ];

    let missing_key = fetch(&v2, &[base.as_slice(), &[("chainid", "1")]].concat()).await;
    let wrong_key = fetch_json(
        &v2,
        &[base.as_slice(), &[("chainid", "1"), ("apikey", "bad")]].concat(),
    )
    .await;
    let no_chain = fetch_json(&v2, &[base.as_slice(), &[("apikey", "good")]].concat()).await;
    let good = fetch_json(
        &v2,
        &[base.as_slice(), &[("chainid", "1"), ("apikey", "good")]].concat(),
    )
    .await;
    let v1 = fetch_json(&format!("{}/api", sim.etherscan_url()), &base).await;

    assert_eq!(missing_key.status(), 200);
    let invalid = json!({"status":"0","message":"NOTOK","result":"Missing/Invalid API Key"});
    assert_eq!(missing_key.json::<Value>().await.unwrap(), invalid);
    assert_eq!(wrong_key, invalid);
    assert!(
        no_chain["result"]
            .as_str()
            .unwrap()
            .starts_with("Missing or unsupported chainid parameter (required for v2 api)")
    );
    assert_eq!(good["status"], "1");
    assert_eq!(
        v1["result"],
        "You are using a deprecated V1 endpoint, switch to Etherscan API V2."
    );
    assert_eq!(sim.stats().by_provider["etherscan"].auth_failures, 2);
}

#[tokio::test]
async fn more_than_five_calls_in_a_second_hit_the_per_second_limit() {
    let sim = start(SimConfig {
        step_ms: 0,
        ..SimConfig::default()
    })
    .await;

    let mut bodies = Vec::new();
    for _ in 0..6 {
        bodies.push(call(&sim, &[("action", "balance"), ("address", FEW)]).await);
    }

    assert!(bodies[..5].iter().all(|b| b["status"] == "1"));
    assert_eq!(
        bodies[5],
        json!({"status":"0","message":"NOTOK","result":"Max calls per sec rate limit reached (5/sec)"})
    );
    assert_eq!(sim.stats().by_provider["etherscan"].rate_limited, 1);
}

#[tokio::test]
async fn the_same_seed_and_address_give_the_same_answers() {
    let (a, b) = (unlimited_sim(5).await, unlimited_sim(5).await);
    let other = unlimited_sim(6).await;
    let address = busy();
    let query = [
        ("action", "tokentx"),
        ("address", &address),
        ("offset", "50"),
    ];

    let (x, y, z) = (
        call(&a, &query).await,
        call(&b, &query).await,
        call(&other, &query).await,
    );

    assert_eq!(x, y);
    assert_ne!(x, z);
    assert_eq!(x["result"].as_array().unwrap().len(), 50);
    assert_eq!(ledger(&a, &address).await, ledger(&b, &address).await);
}

#[tokio::test]
async fn each_supported_chain_has_its_own_ledger_and_others_are_refused() {
    let sim = unlimited_sim(3).await;
    let v2 = format!("{}/v2/api", sim.etherscan_url());
    let address = busy();
    let on = |chain: &'static str| {
        let (v2, address) = (v2.clone(), address.clone());
        async move {
            let query = [
                ("chainid", chain),
                ("module", "account"),
                ("action", "balance"),
                ("address", address.as_str()),
                ("apikey", "k"),
            ];
            fetch_json(&v2, &query).await
        }
    };

    let (mainnet, base, unknown) = (on("1").await, on("8453").await, on("999").await);
    let base_ledger: LedgerSummary = sim_get(
        &sim,
        &format!("/sim/etherscan/ledger/{address}?chainid=8453"),
    )
    .await;

    assert_eq!(mainnet["status"], "1");
    assert_eq!(base["status"], "1");
    assert_ne!(mainnet["result"], base["result"]);
    assert_eq!(base["result"], base_ledger.balance_wei.as_str());
    assert_eq!(base_ledger.chainid, 8453);
    assert_eq!(ledger(&sim, &address).await.chainid, 1);
    assert!(
        unknown["result"]
            .as_str()
            .unwrap()
            .starts_with("Missing or unsupported chainid")
    );
}

#[tokio::test]
async fn balancemulti_answers_each_account_with_its_ledger_balance() {
    let sim = unlimited_sim(1).await;
    let address = busy();
    let both = format!("{EMPTY},{address}");

    let body = call(&sim, &[("action", "balancemulti"), ("address", &both)]).await;

    let summary = ledger(&sim, &address).await;
    assert_eq!(
        body,
        json!({"status":"1","message":"OK","result":[
            {"account": EMPTY, "balance": "0"},
            {"account": address, "balance": summary.balance_wei},
        ]})
    );
}
