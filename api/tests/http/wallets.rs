//! `GET /v1/wallets/{address}` and `POST /v1/wallets/{address}/analyze`.

use chrono::{Duration, Utc};
use coinbeat_shared::{
    cache::{WalletAnalysis, WalletCache, WalletFlags},
    domain::{Address, Chain, Symbol},
    keys::Keys,
    redis_conn,
};
use reqwest::{StatusCode, header};
use serde_json::json;

use crate::support::{ADMIN_KEY, Api, ENQUEUE_KEY, assert_error, json};

const VECTOR: &str = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
const LOWER: &str = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359";

async fn wallets(api: &Api) -> WalletCache {
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    WalletCache::new(
        conn,
        Keys::new(api.settings.redis.key_prefix.clone()),
        &api.settings.wallets,
    )
}

fn analysis(chain: Chain, fetched_at: chrono::DateTime<Utc>) -> WalletAnalysis {
    WalletAnalysis {
        chain,
        address: Address::parse(LOWER).unwrap(),
        native_symbol: Symbol::parse("ETH").unwrap(),
        balance_wei: "1500000000000000001".into(),
        balance: "1.500000000000000001".into(),
        balance_usd: Some("5281.755".parse().unwrap()),
        native_usd_price: Some("3521.17".parse().unwrap()),
        native_price_fetched_at: Some(fetched_at),
        transaction_count: 12,
        token_transfer_count: 3,
        first_activity_at: Some(fetched_at - Duration::days(400)),
        last_activity_at: Some(fetched_at - Duration::days(2)),
        total_received: "10".into(),
        total_sent: "8.499999999999999999".into(),
        tokens: vec![],
        top_counterparties: vec![],
        flags: WalletFlags {
            high_outflow: true,
            ..WalletFlags::default()
        },
        complete: true,
        upstream_requests: 3,
        fetched_at,
        source: "etherscan".into(),
    }
}

/// Writes the test analysis of `LOWER` on ethereum, fetched at `fetched_at`.
pub async fn write_analysis(api: &Api, fetched_at: chrono::DateTime<Utc>) {
    let written = wallets(api)
        .await
        .write(&analysis(Chain::Ethereum, fetched_at))
        .await
        .unwrap();
    assert!(written);
}

#[tokio::test]
async fn a_cached_analysis_is_served_in_any_accepted_spelling_with_its_age_and_checksum() {
    let api = Api::start().await;
    wallets(&api)
        .await
        .write(&analysis(Chain::Ethereum, Utc::now()))
        .await
        .unwrap();

    for spelling in [
        VECTOR,
        LOWER,
        &format!("0x{}", LOWER[2..].to_ascii_uppercase()),
    ] {
        let (status, body) = api.get(&format!("/v1/wallets/{spelling}")).await;
        assert_eq!(status, StatusCode::OK, "{spelling}: {body}");
        assert_eq!(body["address"], LOWER);
        assert_eq!(body["checksum_address"], VECTOR);
        assert_eq!(body["chain"], "ethereum");
        assert_eq!(body["balance"], "1.500000000000000001");
        assert_eq!(body["balance_wei"], "1500000000000000001");
        assert_eq!(body["balance_usd"], "5281.755");
        assert_eq!(body["transaction_count"], 12);
        assert_eq!(body["flags"]["high_outflow"], true);
        assert_eq!(body["source"], "etherscan");
        assert_eq!(body["stale"], false);
        assert!(body["age_seconds"].as_u64().unwrap() < 60, "{body}");
        assert!(
            body["fetched_at"].as_str().unwrap().ends_with('Z'),
            "{body}"
        );
    }
    // Another chain has its own record.
    let (status, body) = api.get(&format!("/v1/wallets/{LOWER}?chain=base")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn an_analysis_past_the_freshness_window_is_served_stale() {
    let api = Api::start_with(|s| s.wallets.fresh_secs = 60).await;
    wallets(&api)
        .await
        .write(&analysis(
            Chain::Ethereum,
            Utc::now() - Duration::seconds(120),
        ))
        .await
        .unwrap();

    let (status, body) = api.get(&format!("/v1/wallets/{LOWER}")).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stale"], true);
    assert!(body["age_seconds"].as_u64().unwrap() >= 120, "{body}");
}

#[tokio::test]
async fn an_unanalysed_wallet_is_404_saying_how_to_request_an_analysis() {
    let api = Api::start().await;

    let (status, body) = api.get(&format!("/v1/wallets/{VECTOR}")).await;

    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "not_analysed_yet");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("POST /v1/wallets/{LOWER}/analyze")),
        "{message}"
    );
    assert_eq!(
        body["error"]["details"]["analyze_url"],
        format!("/v1/wallets/{LOWER}/analyze?chain=ethereum")
    );
}

#[tokio::test]
async fn an_invalid_address_or_chain_is_422_saying_why() {
    let api = Api::start().await;
    let bad_checksum = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d35A";
    for (address, why) in [
        ("0x1234", "40 hex digits"),
        (
            "fb6916095ca1df60bb79ce92ce3ea74c37c5d359",
            "must start with 0x",
        ),
        (
            "0xzz6916095ca1df60bb79ce92ce3ea74c37c5d359",
            "not a hex digit",
        ),
        (bad_checksum, "EIP-55 checksum"),
    ] {
        for (status, body) in [
            api.get(&format!("/v1/wallets/{address}")).await,
            json(
                api.post(&format!("/v1/wallets/{address}/analyze"), &json!({}))
                    .await,
            )
            .await,
        ] {
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{address}: {body}"
            );
            assert_error(&body, "invalid_address");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(why), "{address}: {message}");
        }
    }
    for chain in ["solana", ""] {
        let (status, body) = api.get(&format!("/v1/wallets/{LOWER}?chain={chain}")).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{chain:?}: {body}"
        );
        assert_error(&body, "invalid_chain");
    }
}

#[tokio::test]
async fn analyze_enqueues_a_wallet_job_and_answers_202_with_the_task() {
    let api = Api::start().await;

    let response = api
        .http
        .post(api.url(&format!("/v1/wallets/{VECTOR}/analyze?chain=base")))
        .bearer_auth(ENQUEUE_KEY)
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json(response).await;

    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["queue"], "wallet");
    assert_eq!(body["status"], "pending");
    assert_eq!(location, Some(format!("/v1/tasks/{id}")));
    assert_eq!(
        body["analysis_url"],
        format!("/v1/wallets/{LOWER}?chain=base")
    );

    let (status, task) = api
        .get_as(&format!("/v1/tasks/{id}"), Some(ADMIN_KEY))
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(task["queue"], "wallet");
    assert_eq!(task["payload"], json!({"chain": "base", "address": LOWER}));
}
