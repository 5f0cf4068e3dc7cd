//! No secret ever reaches a log line. `coinbeat up --simulate` runs with canary secrets (the
//! Etherscan key, which travels in the query string, the CoinGecko key header, an admin API key
//! sent as a bearer token)
//! and every process logging at debug; the test makes every component use them, including the
//! error paths that like to print URLs (Etherscan down, a wrong admin token), then stops the
//! system and searches everything it printed, and every API answer, for the canaries.

mod common;

use std::{process::Command, time::Duration};

use serde_json::json;

use common::{free_port, get, get_with, up_simulate, wait_for};

const ETHERSCAN_CANARY: &str = "CanaryEtherscanKey7f3a91";
const COINGECKO_CANARY: &str = "CG-CanaryCoinGecko4b2e";
/// An admin API key (`cbk_` + 64 hex); the settings hold only its SHA-256.
const ADMIN_CANARY: &str = "cbk_c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00deadbeef";

#[tokio::test(flavor = "multi_thread")]
async fn canary_secrets_never_appear_in_any_log_line_or_answer() {
    let data = tempfile::tempdir().unwrap();
    let (api_port, sim_port) = (free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let sim = format!("http://127.0.0.1:{sim_port}");
    let keys = format!(
        "[{{role=\"admin\",sha256=\"{}\"}}]",
        coinbeat_api::auth::api_key::sha256_hex(ADMIN_CANARY)
    );
    let up = up_simulate(
        data.path(),
        api_port,
        sim_port,
        &[
            ("ETHERSCAN_API_KEY", ETHERSCAN_CANARY),
            ("COINGECKO_API_KEY", COINGECKO_CANARY),
            ("COINBEAT_API__KEYS", &keys),
            ("RUST_LOG", "debug"),
        ],
    );
    let http = reqwest::Client::new();
    let mut answers = String::new();

    // Prices with the CoinGecko key.
    wait_for("prices", Duration::from_secs(30), async || {
        let (status, body) = get(&http, &format!("{api}/v1/prices/BTC")).await;
        answers.push_str(&body.to_string());
        (status == 200).then_some(())
    })
    .await;

    // A wallet with the Etherscan key, once served and once with Etherscan down.
    let wallet = "0x2b5ad5c4795c026514f8317c7a215e218dccd6c4";
    answers.push_str(&analyze(&http, &api, wallet).await);
    wait_for("wallet analysis", Duration::from_secs(30), async || {
        let (status, body) = get(&http, &format!("{api}/v1/wallets/{wallet}")).await;
        answers.push_str(&body.to_string());
        (status == 200).then_some(())
    })
    .await;
    http.post(format!("{sim}/sim/control"))
        .json(&json!({"provider": "etherscan", "down": true}))
        .send()
        .await
        .unwrap();
    answers.push_str(&analyze(&http, &api, wallet).await);
    // The failing job has been tried (and its error logged) at least once.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The admin token: wrong, then right.
    for token in ["not-the-token", ADMIN_CANARY] {
        let response = http
            .get(format!("{api}/v1/admin/queues/wallet/dead"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        answers.push_str(&response.text().await.unwrap());
    }
    // Read as the admin, so the answers hold everything an operator may see.
    let (_, health) = get_with(&http, &format!("{api}/v1/health"), Some(ADMIN_CANARY)).await;
    answers.push_str(&health.to_string());
    let (_, schedules) = get_with(&http, &format!("{api}/v1/schedules"), Some(ADMIN_CANARY)).await;
    answers.push_str(&schedules.to_string());

    // Stop everything, then read all it printed.
    let pid = up.child.id();
    Command::new("kill")
        .args(["-INT", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    let mut up = up;
    wait_for("coinbeat up to exit", Duration::from_secs(40), async || {
        up.child.try_wait().unwrap()
    })
    .await;
    let printed = format!(
        "{}{}",
        up.log(),
        std::fs::read_to_string(data.path().join("up.err")).unwrap_or_default()
    );
    assert!(
        printed.lines().count() > 100,
        "debug logging reached the output:\n{printed}"
    );
    assert!(
        printed.contains("etherscan"),
        "the Etherscan calls were logged"
    );
    for canary in [ETHERSCAN_CANARY, COINGECKO_CANARY, ADMIN_CANARY] {
        let leaks: Vec<&str> = printed.lines().filter(|l| l.contains(canary)).collect();
        assert!(leaks.is_empty(), "{canary} in the logs: {leaks:#?}");
        assert!(!answers.contains(canary), "{canary} in an API answer");
    }
}

/// `POST /v1/wallets/{wallet}/analyze`: the answer's text.
async fn analyze(http: &reqwest::Client, api: &str, wallet: &str) -> String {
    let response = http
        .post(format!("{api}/v1/wallets/{wallet}/analyze?force=true"))
        .bearer_auth(ADMIN_CANARY)
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}
