//! What a caller without a token can read: the operational reads need `read` unless
//! `api.auth.public_status` opens them, and opened, they leave out watched wallets, task
//! payloads, wallet results, worker names, hosts and pids, and key fingerprints.

use coinbeat_shared::{
    jobs::{HealthJob, Queue},
    queue::EnqueueOptions,
    settings::StatusRead,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{ADMIN_KEY, Api, READ_KEY, assert_error, json};

const WALLET: &str = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";

#[tokio::test]
async fn anonymous_operational_reads_are_401_while_market_reads_stay_public() {
    let api = Api::start().await;
    for path in [
        "/v1/workers",
        "/v1/queues",
        "/v1/schedules",
        "/v1/schedules/prices/runs",
        "/v1/health",
        "/v1/rate-limits",
        "/v1/status",
        "/v1/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "/metrics",
    ] {
        let anonymous = api.http.get(api.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        let (_, body) = json(anonymous).await;
        assert_error(&body, "unauthorized");
        let read = api.http.get(api.url(path)).bearer_auth(READ_KEY);
        let status = read.send().await.unwrap().status();
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{path} with a read key");
    }
    let response = api.http.get(api.url("/v1/prices")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "market reads are public");
}

#[tokio::test]
async fn opened_to_everyone_the_operational_reads_show_no_wallet_payload_host_or_pid() {
    let api = Api::start_with(|s| {
        s.api.auth.public_status = vec![
            StatusRead::Workers,
            StatusRead::Queues,
            StatusRead::Schedules,
            StatusRead::Health,
            StatusRead::Tasks,
            StatusRead::Metrics,
        ];
        s.wallets.watched = vec![coinbeat_shared::domain::Address::parse(WALLET).unwrap()];
        // What loading the settings does with a watched wallet: a schedule entry for it.
        s.wallets.extend_schedule(&mut s.schedule);
    })
    .await;
    // A wallet task (what the beat enqueues for a watched wallet) and a health task.
    let producer = coinbeat_shared::queue::Producer::new(
        coinbeat_shared::redis_conn::connect(&api.settings.redis)
            .await
            .unwrap(),
        coinbeat_shared::keys::Keys::new(api.settings.redis.key_prefix.clone()),
        api.settings.queues.clone(),
    );
    let wallet_task = producer
        .enqueue_to(
            &Queue::Wallet.name(),
            &json!({"chain": "ethereum", "address": WALLET}),
            EnqueueOptions::default(),
        )
        .await
        .unwrap();
    let health_task = producer
        .enqueue(&HealthJob::default(), EnqueueOptions::default())
        .await
        .unwrap();

    // Schedules: the watched wallet's entry is the admin's to see.
    let (status, anonymous) = api.get_as("/v1/schedules", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!anonymous.to_string().contains(WALLET), "{anonymous}");
    assert!(
        anonymous["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "prices"),
        "{anonymous}"
    );
    let (_, read) = api.get_as("/v1/schedules", Some(READ_KEY)).await;
    assert!(!read.to_string().contains(WALLET), "{read}");
    let (_, admin) = api.get_as("/v1/schedules", Some(ADMIN_KEY)).await;
    assert!(admin.to_string().contains(WALLET), "{admin}");
    let runs = format!("/v1/schedules/wallet-ethereum-{WALLET}/runs");
    let (status, body) = api.get_as(&runs, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let valid = body["error"]["details"]["valid_entries"].to_string();
    assert!(
        valid.contains("prices") && !valid.contains("wallet"),
        "the entries a non-admin is told of: {body}"
    );
    assert_eq!(api.get_as(&runs, Some(ADMIN_KEY)).await.0, StatusCode::OK);

    // Tasks: payloads to admins only.
    for id in [wallet_task, health_task] {
        let path = format!("/v1/tasks/{id}");
        let (status, task) = api.get_as(&path, None).await;
        assert_eq!(status, StatusCode::OK, "{task}");
        assert!(task.get("payload").is_none(), "{task}");
        assert!(!task.to_string().contains(WALLET), "{task}");
        let (_, task) = api.get_as(&path, Some(ADMIN_KEY)).await;
        assert!(task["payload"].is_object(), "{task}");
    }

    // Workers: a registered incarnation shows its queue and liveness, not who it is.
    let mut conn = coinbeat_shared::redis_conn::connect(&api.settings.redis)
        .await
        .unwrap();
    let keys = coinbeat_shared::keys::Keys::new(api.settings.redis.key_prefix.clone());
    let q = keys.queue(&Queue::Prices.name());
    let name = "prices-pod-7f9c-4242-abcdef";
    let now = chrono::Utc::now().timestamp();
    let _: () = redis::pipe()
        .zadd(q.workers(), name, now)
        .hset_multiple(
            q.worker_info(name),
            &[("host", "pod-7f9c"), ("pid", "4242"), ("started_ms", "1")],
        )
        .query_async(&mut conn)
        .await
        .unwrap();
    let (status, workers) = api.get_as("/v1/workers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(workers["workers"].as_array().unwrap().len(), 1, "{workers}");
    let text = workers.to_string();
    assert!(
        !text.contains("pod-7f9c") && !text.contains("4242"),
        "{workers}"
    );
    let (_, workers) = api.get_as("/v1/workers", Some(READ_KEY)).await;
    assert_eq!(workers["workers"][0]["host"], "pod-7f9c", "{workers}");
    assert_eq!(workers["workers"][0]["pid"], 4242, "{workers}");
}
