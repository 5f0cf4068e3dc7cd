//! On demand without waste: identical requests while a task waits or runs share it (one job,
//! one id, even for 100 at once), a finished task lets the next request enqueue again, and
//! fresh cached data is answered without a job unless `force` is set.

use std::time::{Duration, Instant};

use chrono::Utc;
use coinbeat_shared::{
    jobs::{HealthJob, Queue},
    keys::Keys,
    queue::{JobContext, TaskId, TaskStatus, WorkerRuntime, lookup_task, queue_stats},
    redis_conn,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{Api, json, record};

/// Tasks waiting on `queue` right now.
async fn waiting(api: &Api, queue: Queue) -> u64 {
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    let settings = api.settings.queues.for_queue(&queue.name());
    queue_stats(&conn, &keys, &queue.name(), &settings)
        .await
        .unwrap()
        .waiting
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_identical_requests_get_one_task_id_and_one_job() {
    let api = Api::start().await;
    let body = json!({"kind": "prices", "args": {"symbols": ["eth", "BTC"]}});
    let answers = futures::future::join_all((0..100).map(|i| {
        // Half of them name the symbols in another order and spelling: the same work.
        let body = if i % 2 == 0 {
            body.clone()
        } else {
            json!({"kind": "prices", "args": {"symbols": ["btc", "ETH"]}})
        };
        let api = &api;
        async move { json(api.post("/v1/tasks", &body).await).await }
    }))
    .await;

    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(_, b)| b["id"].as_str().unwrap_or_else(|| panic!("{b}")).to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let new: Vec<_> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .collect();
    assert_eq!(new.len(), 1, "exactly one request enqueued");
    assert_eq!(new[0].1["deduplicated"], false);
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::ACCEPTED) {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body["deduplicated"], true, "{body}");
        assert_eq!(body["status"], "pending", "{body}");
    }
    assert_eq!(
        waiting(&api, Queue::Prices).await,
        1,
        "one job in the queue"
    );

    // Other args are other work.
    let (status, other) = json(
        api.post(
            "/v1/tasks",
            &json!({"kind": "prices", "args": {"symbols": ["BTC"]}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{other}");
    assert_eq!(waiting(&api, Queue::Prices).await, 2);
}

#[tokio::test]
async fn once_the_task_is_done_the_same_request_enqueues_a_new_one() {
    let api = Api::start().await;
    let (status, first) = json(api.post("/v1/tasks", &json!({"kind": "health"})).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let first: TaskId = first["id"].as_str().unwrap().parse().unwrap();
    let (status, again) = json(api.post("/v1/tasks", &json!({"kind": "health"})).await).await;
    assert_eq!(
        (status, again["id"].as_str()),
        (StatusCode::OK, Some(first.to_string().as_str()))
    );

    // A real worker runs it to done.
    let settings = api.settings.clone();
    let stop = CancellationToken::new();
    let s = stop.clone();
    let worker = tokio::spawn(async move {
        let conn = redis_conn::connect(&settings.redis).await.unwrap();
        let keys = Keys::new(settings.redis.key_prefix.clone());
        let mut queue = settings.queues.for_queue(&Queue::Health.name());
        queue.poll_interval_ms = 20;
        let runtime = WorkerRuntime::new(
            redis_conn::client(&settings.redis).unwrap(),
            conn,
            keys,
            queue,
        );
        let handler = |_job: HealthJob, _ctx: JobContext| async { Ok(None) };
        runtime.run(handler, s).await.unwrap();
    });
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while lookup_task(&conn, &keys, &Queue::Health.name(), first)
        .await
        .unwrap()
        .is_none_or(|t| t.status != TaskStatus::Done)
    {
        assert!(Instant::now() < deadline, "the task never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    worker.await.unwrap();

    let (status, next) = json(api.post("/v1/tasks", &json!({"kind": "health"})).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{next}");
    assert_ne!(next["id"], first.to_string());
    assert_eq!(next["deduplicated"], false);
}

#[tokio::test]
async fn fresh_prices_are_answered_from_the_cache_and_force_enqueues_anyway() {
    let api = Api::start_with(|s| s.prices.fresh_secs = 600).await;
    let now = Utc::now();
    api.write(&[
        record("BTC", "97000.5", now),
        record("ETH", "3521.17", now),
        record("SOL", "180", now - chrono::Duration::seconds(3_600)),
    ])
    .await;
    let ask = |symbols: Value, force: bool| json!({"kind": "prices", "args": {"symbols": symbols}, "force": force});

    let (status, body) = json(
        api.post("/v1/tasks", &ask(json!(["eth", "BTC"]), false))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["fresh"], true, "{body}");
    assert_eq!(body["kind"], "prices");
    let served: Vec<(&str, &str)> = body["data"]["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["symbol"].as_str().unwrap(), p["usd"].as_str().unwrap()))
        .collect();
    assert_eq!(served, [("ETH", "3521.17"), ("BTC", "97000.5")]);
    assert!(body.get("id").is_none(), "{body}");
    assert_eq!(waiting(&api, Queue::Prices).await, 0, "nothing enqueued");

    // SOL is stale, so a request naming it needs a fetch.
    let (status, body) = json(
        api.post("/v1/tasks", &ask(json!(["BTC", "SOL"]), false))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["fresh"], false);
    // So does one naming a symbol with nothing cached.
    let (status, body) = json(api.post("/v1/tasks", &ask(json!(["LTC"]), false)).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    let (status, body) = json(
        api.post("/v1/tasks", &ask(json!(["BTC", "ETH"]), true))
            .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "force enqueues though fresh: {body}"
    );
    assert_eq!(body["deduplicated"], false);
    assert_eq!(waiting(&api, Queue::Prices).await, 3);
    // Forcing again while that task waits joins it rather than doubling it.
    let (status, again) = json(
        api.post("/v1/tasks", &ask(json!(["ETH", "BTC"]), true))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], body["id"]);
    assert_eq!(again["deduplicated"], true);
    assert_eq!(waiting(&api, Queue::Prices).await, 3);

    // Without a list, the tracked set must be fresh, and it is not.
    let (status, body) = json(api.post("/v1/tasks", &json!({"kind": "prices"})).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test]
async fn a_fresh_wallet_analysis_is_answered_without_a_job_and_a_stale_one_is_not() {
    let api = Api::start().await;
    let address = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359";
    let analyze = |force: bool| {
        api.http
            .post(api.url(&format!("/v1/wallets/{address}/analyze?force={force}")))
            .bearer_auth(crate::support::ENQUEUE_KEY)
            .send()
    };
    let (status, body) = json(analyze(false).await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "nothing cached yet: {body}");
    let first = body["id"].clone();
    let (status, body) = json(analyze(false).await.unwrap()).await;
    assert_eq!((status, &body["id"]), (StatusCode::OK, &first), "{body}");
    assert_eq!(body["deduplicated"], true);
    assert_eq!(
        body["analysis_url"],
        format!("/v1/wallets/{address}?chain=ethereum")
    );

    crate::wallets::write_analysis(&api, Utc::now()).await;
    let (status, body) = json(analyze(false).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["fresh"], true);
    assert_eq!(body["kind"], "wallet");
    assert_eq!(body["data"]["address"], address);
    assert_eq!(body["data"]["stale"], false);
    let (status, body) = json(analyze(true).await.unwrap()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "forced, but the first task still waits: {body}"
    );
    assert_eq!(body["id"], first);
    assert_eq!(waiting(&api, Queue::Wallet).await, 1);

    let stale = Utc::now() + chrono::Duration::seconds(1) - api.settings.wallets.fresh_for() * 2;
    let api2 = Api::start().await;
    crate::wallets::write_analysis(&api2, stale).await;
    let response = api2
        .http
        .post(api2.url(&format!("/v1/wallets/{address}/analyze")))
        .bearer_auth(crate::support::ENQUEUE_KEY)
        .send()
        .await
        .unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::ACCEPTED, "stale: {body}");
}

#[tokio::test]
async fn three_identical_jobs_with_three_idempotency_keys_enqueue_one_task() {
    let api = Api::start().await;
    let mut ids = Vec::new();
    for key in ["first", "second", "third"] {
        let body = json!({"kind": "market", "args": {"limit": 50}, "idempotency_key": key});
        let (status, answer) = json(api.post("/v1/tasks", &body).await).await;
        assert!(status.is_success(), "{status}: {answer}");
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(waiting(&api, Queue::Market).await, 1);
    // Each key now names that task: a held key is still 409 with it, whatever the args.
    let other = json!({"kind": "market", "args": {"limit": 10}, "idempotency_key": "second"});
    let (status, answer) = json(api.post("/v1/tasks", &other).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(
        answer["error"]["details"]["existing_task_id"],
        ids[0].as_str()
    );
    assert_eq!(
        waiting(&api, Queue::Market).await,
        1,
        "nothing more enqueued"
    );
}

#[tokio::test]
async fn a_caller_past_its_cap_of_waiting_tasks_gets_429_and_others_are_not_affected() {
    let api = Api::start_with(|s| s.api.max_waiting_per_caller = 3).await;
    for limit in [1, 2, 3] {
        let body = json!({"kind": "market", "args": {"limit": limit}});
        let r = api.post("/v1/tasks", &body).await;
        assert_eq!(
            r.status(),
            StatusCode::ACCEPTED,
            "task {limit} is within the cap"
        );
    }
    let body = json!({"kind": "market", "args": {"limit": 4}});
    let (status, answer) = json(api.post("/v1/tasks", &body).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(answer["error"]["code"], "too_many_tasks", "{answer}");
    assert_eq!(answer["error"]["details"]["limit"], 3);
    assert_eq!(
        waiting(&api, Queue::Market).await,
        3,
        "the refused one wrote nothing"
    );

    // Another caller (an admin is not capped) is served.
    let response = api
        .http
        .post(api.url("/v1/tasks"))
        .bearer_auth(crate::support::ADMIN_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // Once one of the caller's tasks is done, it has room again.
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    let q = keys.queue(&Queue::Market.name());
    let first: String = redis::cmd("LINDEX")
        .arg(q.active())
        .arg(0)
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(q.meta(&first))
        .arg("status")
        .arg("Done")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let body = json!({"kind": "market", "args": {"limit": 5}});
    let r = api.post("/v1/tasks", &body).await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "a finished task frees a place"
    );
}
