//! `coinbeat up --simulate` serving every job kind besides prices, as a new user sees it: the top
//! markets, global figures and a coin's supply from CoinGecko (exact decimals as served), a
//! watched wallet analysed by the beat and another on demand (`coinbeat enqueue wallet`), both
//! matching the simulator's ledger, an empty wallet giving an empty analysis, each schedule
//! entry's last outcome, and markets from CoinLore, saying so, while CoinGecko is down.

mod common;

use std::{
    process::Command,
    str::FromStr,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use common::{free_port, get, get_with, local_admin_key, private_redis_url, up_simulate, wait_for};

/// The simulator's ledgers: an address ending in `f` is busy (2,500 transactions over three
/// pages of 1,000), one ending in `0` has none, any other has a few.
const BUSY: &str = "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf";
const FEW: &str = "0x2b5ad5c4795c026514f8317c7a215e218dccd6c4";
const EMPTY: &str = "0x6813eb9362372eef6200f3b1dbc3f819671cba60";

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(
        value
            .as_str()
            .unwrap_or_else(|| panic!("a decimal string: {value}")),
    )
    .unwrap()
}

/// The analysis's totals against the simulator's own view of the ledger.
fn assert_matches_ledger(analysis: &Value, ledger: &Value) {
    assert_eq!(analysis["balance_wei"], ledger["balance_wei"], "{analysis}");
    assert_eq!(
        analysis["transaction_count"], ledger["normal"]["count"],
        "{analysis}"
    );
    assert_eq!(
        analysis["token_transfer_count"], ledger["token"]["count"],
        "{analysis}"
    );
    assert_eq!(analysis["complete"], true, "{analysis}");
    assert_eq!(analysis["source"], "etherscan");
}

#[tokio::test(flavor = "multi_thread")]
async fn up_simulate_serves_markets_and_wallets_from_their_workers() {
    let data = tempfile::tempdir().unwrap();
    let (api_port, sim_port) = (free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let sim = format!("http://127.0.0.1:{sim_port}");
    let config = data.path().join("coinbeat.toml");
    std::fs::write(
        &config,
        format!("[wallets]\nwatched = [\"{BUSY}\"]\nwatch_cron = \"0 0 * * * *\"\n"),
    )
    .unwrap();
    let up = up_simulate(
        data.path(),
        api_port,
        sim_port,
        &[("COINBEAT_CONFIG", config.to_str().unwrap())],
    );
    let http = reqwest::Client::new();

    // 1. The beat's first market run (a never-run entry runs at first start): the top 10 with
    //    ranks 1..=10, each price exactly what the simulator served for that coin.
    let markets = wait_for("markets", Duration::from_secs(30), async || {
        let (status, body) = get(&http, &format!("{api}/v1/markets?limit=10")).await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(markets["source"], "coingecko", "{markets}");
    assert_eq!(markets["stale"], false);
    let rows = markets["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    let ranks: Vec<u64> = rows.iter().map(|r| r["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, (1..=10).collect::<Vec<_>>());
    wait_for(
        "markets == what the simulator served",
        Duration::from_secs(10),
        async || {
            let (_, served) = get(&http, &format!("{sim}/sim/served")).await;
            let (_, markets) = get(&http, &format!("{api}/v1/markets?limit=10")).await;
            markets["rows"]
                .as_array()?
                .iter()
                .all(|row| {
                    let id = row["coin_id"].as_str().unwrap();
                    served["coingecko_markets"][id]["usd"]
                        .as_str()
                        .is_some_and(|sent| {
                            Decimal::from_str(sent).ok() == Some(decimal(&row["price_usd"]))
                        })
                })
                .then_some(())
        },
    )
    .await;

    // 2. Global figures and one coin's supply, against the simulator asked directly.
    let (status, global) = get(&http, &format!("{api}/v1/markets/global")).await;
    assert_eq!(status, 200, "{global}");
    assert_eq!(global["source"], "coingecko");
    let (_, upstream) = get(&http, &format!("{sim}/api/v3/global")).await;
    assert_eq!(
        global["active_cryptocurrencies"],
        upstream["data"]["active_cryptocurrencies"]
    );
    // Supplies come from the daily `supply` entry, which also runs at first start.
    let bitcoin = wait_for("bitcoin's supply", Duration::from_secs(30), async || {
        let (status, body) = get(&http, &format!("{api}/v1/coins/bitcoin")).await;
        (status == 200).then_some(body)
    })
    .await;
    let (_, upstream) = get(&http, &format!("{sim}/api/v3/coins/bitcoin")).await;
    let supply = &upstream["market_data"];
    assert_eq!(
        decimal(&bitcoin["max_supply"]),
        Decimal::from_str(&supply["max_supply"].to_string()).unwrap()
    );
    assert_eq!(
        decimal(&bitcoin["circulating_supply"]),
        Decimal::from_str(&supply["circulating_supply"].to_string()).unwrap()
    );
    let (status, unknown) = get(&http, &format!("{api}/v1/coins/no-such-coin")).await;
    assert_eq!(status, 404, "{unknown}");

    // 3. The watched wallet, analysed by the beat (its entry ran at first start), read to the
    //    end of every page and equal to the simulator's ledger.
    let watched = wait_for("the watched wallet", Duration::from_secs(30), async || {
        let (status, body) = get(&http, &format!("{api}/v1/wallets/{BUSY}")).await;
        (status == 200).then_some(body)
    })
    .await;
    let (_, ledger) = get(&http, &format!("{sim}/sim/etherscan/ledger/{BUSY}")).await;
    assert_matches_ledger(&watched, &ledger);
    assert!(
        watched["transaction_count"].as_u64().unwrap() > 1_000,
        "more than one page"
    );
    assert_eq!(watched["stale"], false);

    // 4. On demand from the CLI: `coinbeat enqueue wallet --address`, against the private Redis.
    let (status, missing) = get(&http, &format!("{api}/v1/wallets/{FEW}")).await;
    assert_eq!(status, 404, "{missing}");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("analyze"),
        "says how to request one: {missing}"
    );
    let coinbeat = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_coinbeat"))
            .args(args)
            .env_remove("COINBEAT_CONFIG")
            .env("REDIS_URL", private_redis_url(data.path()))
            .output()
            .unwrap()
    };
    let output = coinbeat(&["enqueue", "wallet", "--address", FEW, "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let enqueued: Value = serde_json::from_slice(&output.stdout).unwrap();
    let id = enqueued["id"].as_str().unwrap();
    let task = wait_for("the wallet task", Duration::from_secs(15), async || {
        let key = local_admin_key(data.path());
        let (_, task) = get_with(&http, &format!("{api}/v1/tasks/{id}"), Some(&key)).await;
        (task["status"] == "done").then_some(task)
    })
    .await;
    assert_eq!(task["payload"]["address"], FEW, "{task}");
    let (status, few) = get(&http, &format!("{api}/v1/wallets/{FEW}")).await;
    assert_eq!(status, 200, "{few}");
    let (_, ledger) = get(&http, &format!("{sim}/sim/etherscan/ledger/{FEW}")).await;
    assert_matches_ledger(&few, &ledger);
    let output = coinbeat(&["enqueue", "wallet", "--address", "0x123"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("address"), "{stderr}");

    // 5. "No transactions found" is an empty, valid analysis, not an error.
    let response = http
        .post(format!("{api}/v1/wallets/{EMPTY}/analyze"))
        .bearer_auth(local_admin_key(data.path()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let empty = wait_for("the empty wallet", Duration::from_secs(15), async || {
        let (status, body) = get(&http, &format!("{api}/v1/wallets/{EMPTY}")).await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(empty["transaction_count"], 0, "{empty}");
    assert_eq!(empty["balance_wei"], "0");
    assert_eq!(empty["balance"], "0");
    assert_eq!(empty["tokens"], json!([]));

    // 6. Each entry's last outcome: the market and the watched wallet's runs are done.
    // As the admin: a watched wallet's entry is shown to admins only.
    let key = local_admin_key(data.path());
    let (status, schedules) = get_with(&http, &format!("{api}/v1/schedules"), Some(&key)).await;
    assert_eq!(status, 200);
    let entries = schedules["schedules"].as_array().unwrap();
    let outcome = |name: &str| {
        entries
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {schedules}"))
            .clone()
    };
    let market = outcome("market");
    assert_eq!(market["last_outcome"], "done", "{market}");
    assert!(market["last_finished_at"].is_string(), "{market}");
    let wallet = outcome(&format!("wallet-ethereum-{BUSY}"));
    assert_eq!(wallet["last_outcome"], "done", "{wallet}");
    assert_eq!(wallet["kind"], "wallet");
    assert_eq!(wallet["cron"], "0 0 * * * *");

    // 7. CoinGecko down: an on-demand market job is served by CoinLore, and says so, with the
    //    prices CoinLore sent.
    let response = http
        .post(format!("{sim}/sim/control"))
        .json(&json!({"provider": "coingecko", "down": true}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let switched_at = Utc::now();
    let response = http
        .post(format!("{api}/v1/tasks"))
        .bearer_auth(local_admin_key(data.path()))
        .json(&json!({"kind": "market", "args": {"limit": 20}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let started = Instant::now();
    let fallback = wait_for(
        "markets from coinlore",
        Duration::from_secs(30),
        async || {
            let (_, body) = get(&http, &format!("{api}/v1/markets?limit=20")).await;
            let at: DateTime<Utc> = body["fetched_at"].as_str()?.parse().ok()?;
            (body["source"] == "coinlore" && at > switched_at).then_some(body)
        },
    )
    .await;
    let (_, served) = get(&http, &format!("{sim}/sim/served")).await;
    let rows = fallback["rows"].as_array().unwrap();
    // The simulator's CoinLore lists fewer than 20 coins: all of them, ranked.
    assert!((10..=20).contains(&rows.len()), "{fallback}");
    assert_eq!(fallback["available"], rows.len());
    let ranks: Vec<u64> = rows.iter().map(|r| r["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, (1..=rows.len() as u64).collect::<Vec<_>>());
    // Exactly a price CoinLore sent for that symbol: among its recent ones, since the price
    // tiers read CoinLore's pages too and may have been served a newer price since.
    for row in rows {
        let symbol = row["symbol"].as_str().unwrap().to_uppercase();
        let sent: Vec<Decimal> = served["coinlore_recent"][&symbol]
            .as_array()
            .unwrap_or_else(|| panic!("coinlore served {symbol}: {served}"))
            .iter()
            .map(|p| Decimal::from_str(p["usd"].as_str().unwrap()).unwrap())
            .collect();
        let stored = decimal(&row["price_usd"]);
        assert!(
            sent.contains(&stored),
            "{symbol}: {stored} not among {sent:?}"
        );
    }
    eprintln!("markets from the fallback after {:?}", started.elapsed());
    drop(up);
}
