//! The Etherscan API V2 client against wiremock: the request it sends, the success shapes it
//! reads (every number a string), and each error shape classified for retries: "No
//! transactions found" is an empty list, the rate-limit body throttles, a refused key is
//! permanent and names the setting, 5xx and non-Etherscan bodies are transient.

#[path = "common/fake_etherscan.rs"]
mod fake_etherscan;
#[path = "common/gated.rs"]
mod gated;

use std::time::Duration;

use coinbeat_shared::{
    domain::{Address, Chain},
    queue::JobError,
    settings::{EtherscanSettings, Secret},
};
use coinbeat_workers::{
    etherscan::{Etherscan, EtherscanError, Page},
    upstream::GateError,
};
use fake_etherscan::*;
use gated::{Gated, gated};
use serde_json::json;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path, query_param},
};

/// A client of `base_url` with its own limiter, unlimited (limits are not under test here).
async fn client(base_url: &str) -> Gated<Etherscan> {
    let base_url = base_url.to_owned();
    gated(
        |s| {
            s.providers.etherscan = EtherscanSettings {
                base_url,
                api_key: Some(Secret::new(KEY)),
                timeout_ms: 5_000,
                rate_limit_retry_ms: 1_000,
                rate_limit: "off".into(),
            };
        },
        |env| Etherscan::new(env).unwrap(),
    )
    .await
}

fn wallet() -> Address {
    Address::parse(WALLET).unwrap()
}

const FIRST_PAGE: Page = Page {
    number: 1,
    size: 100,
};

/// A server that answers every request with `body` (HTTP `status`).
async fn answering(status: u16, body: serde_json::Value) -> FakeEtherscan {
    let fake = FakeEtherscan::bare().await;
    Mock::given(method("GET"))
        .and(path("/v2/api"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&fake.server)
        .await;
    fake
}

#[tokio::test]
async fn balance_sends_chainid_module_action_and_key_and_reads_the_wei_string_exactly() {
    let fake = FakeEtherscan::bare().await;
    Mock::given(method("GET"))
        .and(path("/v2/api"))
        .and(query_param("chainid", "8453"))
        .and(query_param("module", "account"))
        .and(query_param("action", "balance"))
        .and(query_param("address", WALLET))
        .and(query_param("tag", "latest"))
        .and(query_param("apikey", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "1", "message": "OK", "result": "172774397764084972158218"
        })))
        .expect(1)
        .mount(&fake.server)
        .await;

    let wei = client(&fake.uri())
        .await
        .balance(Chain::Base, &wallet())
        .await
        .unwrap();

    assert_eq!(wei.to_string(), "172774397764084972158218");
    assert_eq!(wei.to_decimal_string(18), "172774.397764084972158218");
}

#[tokio::test]
async fn txlist_and_tokentx_rows_are_read_with_their_string_numbers_and_empty_to() {
    let mut deployment = tx(3, WALLET, "", "0", 1_759_129_600);
    deployment["contractAddress"] = json!(ALICE);
    deployment["isError"] = json!("1");
    let fake = FakeEtherscan::serving(Ledger {
        balance_wei: "0".into(),
        txs: vec![
            tx(7, ALICE, WALLET, "1500000000000000000", 1_759_129_619),
            deployment,
        ],
        transfers: vec![transfer(
            1,
            ALICE,
            WALLET,
            USDC,
            "5901522149285533025181",
            6,
            1_513_240_363,
        )],
    })
    .await;
    let etherscan = client(&fake.uri()).await;

    let txs = etherscan
        .txlist(Chain::Ethereum, &wallet(), FIRST_PAGE)
        .await
        .unwrap();
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0].block, 20_000_007);
    assert_eq!(txs[0].timestamp.timestamp(), 1_759_129_619);
    assert_eq!(txs[0].from.as_str(), ALICE);
    assert_eq!(txs[0].to.as_ref().map(Address::as_str), Some(WALLET));
    assert_eq!(txs[0].value.to_string(), "1500000000000000000");
    assert!(!txs[0].failed);
    assert_eq!(txs[1].to, None, "a deployment has an empty `to`");
    assert!(txs[1].failed);
    assert_eq!(
        txs[1].contract_created.as_ref().map(Address::as_str),
        Some(ALICE)
    );

    let transfers = etherscan
        .tokentx(Chain::Ethereum, &wallet(), FIRST_PAGE)
        .await
        .unwrap();
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].contract.as_str(), USDC);
    assert_eq!(transfers[0].value.to_string(), "5901522149285533025181");
    assert_eq!(transfers[0].decimals, 6);
    assert_eq!(transfers[0].token_symbol, "USDC");

    let calls = fake.calls();
    assert_eq!(
        calls,
        [
            ("txlist".into(), "1".into()),
            ("tokentx".into(), "1".into())
        ]
    );
}

#[tokio::test]
async fn no_transactions_found_is_an_empty_list_not_an_error() {
    let fake = answering(200, no_transactions()).await;
    let etherscan = client(&fake.uri()).await;
    assert!(
        etherscan
            .txlist(Chain::Ethereum, &wallet(), FIRST_PAGE)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        etherscan
            .tokentx(Chain::Ethereum, &wallet(), FIRST_PAGE)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_nothing_found_message_is_an_empty_list_whatever_the_result_holds() {
    for body in [
        json!({"status": "0", "message": "No transactions found", "result": null}),
        json!({"status": "0", "message": "No token transfers found", "result": []}),
        json!({"status": "0", "message": "NOTOK", "result": "No records found"}),
    ] {
        let fake = answering(200, body.clone()).await;
        let rows = client(&fake.uri())
            .await
            .tokentx(Chain::Ethereum, &wallet(), FIRST_PAGE)
            .await
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert!(rows.is_empty(), "{body}");
    }
}

#[tokio::test]
async fn the_rate_limit_body_is_a_throttle_of_about_a_second_not_data_and_not_permanent() {
    for text in [
        "Max rate limit reached",
        "Max calls per sec rate limit reached (3/sec)",
    ] {
        let fake = answering(200, refusal(text)).await;
        let error = client(&fake.uri())
            .await
            .txlist(Chain::Ethereum, &wallet(), FIRST_PAGE)
            .await
            .unwrap_err();
        assert!(
            matches!(error, EtherscanError::RateLimited { .. }),
            "{error}"
        );
        let job = JobError::from(error);
        assert!(!job.is_permanent(), "{job}");
        assert_eq!(job.retry_after(), Some(Duration::from_secs(1)), "{job}");
        assert!(job.reason().contains(text), "{job}");
    }
    // The balance endpoint's `result` is a string too: the text must not be read as a balance.
    let fake = answering(200, refusal("Max rate limit reached")).await;
    let error = client(&fake.uri())
        .await
        .balance(Chain::Ethereum, &wallet())
        .await
        .unwrap_err();
    assert!(
        matches!(error, EtherscanError::RateLimited { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_refused_key_is_permanent_and_names_the_setting() {
    for text in ["Invalid API Key", "Missing/Invalid API Key"] {
        let fake = answering(200, refusal(text)).await;
        let error = client(&fake.uri())
            .await
            .balance(Chain::Ethereum, &wallet())
            .await
            .unwrap_err();
        assert!(
            matches!(error, EtherscanError::InvalidKey { .. }),
            "{error}"
        );
        let job = JobError::from(error);
        assert!(job.is_permanent());
        assert!(job.reason().contains("ETHERSCAN_API_KEY"), "{job}");
    }
}

#[tokio::test]
async fn no_key_means_no_client_and_an_error_naming_the_setting() {
    for key in [None, Some(Secret::new("  "))] {
        let error = gated(
            |s| s.providers.etherscan.api_key = key,
            |env| Etherscan::new(env).unwrap_err(),
        )
        .await
        .client;
        assert!(matches!(error, EtherscanError::MissingKey));
        let job = JobError::from(error);
        assert!(job.is_permanent());
        assert!(job.reason().contains("ETHERSCAN_API_KEY"), "{job}");
    }
}

#[tokio::test]
async fn server_errors_and_bodies_that_are_not_etherscans_are_transient() {
    let fake = answering(502, json!({"error": "bad gateway"})).await;
    let error = client(&fake.uri())
        .await
        .balance(Chain::Ethereum, &wallet())
        .await
        .unwrap_err();
    assert!(
        matches!(error, EtherscanError::Unavailable { status: 502, .. }),
        "{error}"
    );
    assert!(!JobError::from(error).is_permanent());

    let fake = FakeEtherscan::bare().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>Just a moment...</html>"))
        .mount(&fake.server)
        .await;
    let error = client(&fake.uri())
        .await
        .txlist(Chain::Ethereum, &wallet(), FIRST_PAGE)
        .await
        .unwrap_err();
    assert!(
        matches!(error, EtherscanError::Unavailable { .. }),
        "{error}"
    );
    assert!(!JobError::from(error).is_permanent());

    // Another refusal (an unsupported chain) is permanent: retrying cannot help.
    let fake = answering(
        200,
        refusal("Free API access is not supported for this chain. Please upgrade your api plan for full chain coverage."),
    )
    .await;
    let error = client(&fake.uri())
        .await
        .balance(Chain::Bsc, &wallet())
        .await
        .unwrap_err();
    assert!(JobError::from(error).is_permanent());
}

#[tokio::test]
async fn a_transport_error_is_transient_and_never_shows_the_key() {
    // A port nothing listens on: bind one, then drop it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = client(&format!("http://127.0.0.1:{port}"))
        .await
        .balance(Chain::Ethereum, &wallet())
        .await
        .unwrap_err();
    assert!(
        matches!(error, EtherscanError::Gate(GateError::Transport { .. })),
        "{error}"
    );
    let job = JobError::from(error);
    assert!(!job.is_permanent());
    assert!(!format!("{job} {job:?}").contains(KEY), "{job:?}");
}

#[tokio::test]
async fn pages_are_asked_with_page_and_offset_newest_first() {
    let rows: Vec<_> = (0..5)
        .rev()
        .map(|n| tx(n, ALICE, WALLET, "1", 1_700_000_000 + n))
        .collect();
    let fake = FakeEtherscan::serving(Ledger {
        balance_wei: "5".into(),
        txs: rows,
        transfers: vec![],
    })
    .await;
    let etherscan = client(&fake.uri()).await;
    let page = |number| Page { number, size: 2 };
    let p1 = etherscan
        .txlist(Chain::Ethereum, &wallet(), page(1))
        .await
        .unwrap();
    let p3 = etherscan
        .txlist(Chain::Ethereum, &wallet(), page(3))
        .await
        .unwrap();
    let p4 = etherscan
        .txlist(Chain::Ethereum, &wallet(), page(4))
        .await
        .unwrap();
    assert_eq!(
        p1.iter().map(|t| t.block).collect::<Vec<_>>(),
        [20_000_004, 20_000_003]
    );
    assert_eq!(p3.len(), 1);
    assert!(p4.is_empty());
    let requests = fake.server.received_requests().await.unwrap();
    let q = requests[0].url.query().unwrap();
    for part in ["page=1", "offset=2", "sort=desc", "startblock=0"] {
        assert!(q.contains(part), "{q}");
    }
}
