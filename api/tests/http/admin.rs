//! The operator endpoints: the admin role (401 without a key or with an unknown one, 403 with a
//! weaker role), dead letters, queue purge and schedule control under `/v1/admin/...`, and the
//! public `GET /v1/workers` and `GET /v1/schedules/{entry}/runs`. Bad input answers 4xx in the
//! one error shape, never 500.

use std::time::{Duration, Instant};

use coinbeat_shared::{
    jobs::{PricesJob, Queue},
    keys::Keys,
    queue::{
        EnqueueOptions, JobContext, JobError, Producer, TaskId, TaskStatus, WorkerRuntime,
        lookup_task,
    },
    redis_conn,
};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{ADMIN_KEY, Api, ENQUEUE_KEY, READ_KEY, assert_error, json as json_of};

async fn with_token() -> Api {
    Api::start().await
}

/// An admin request with the right token.
async fn admin(api: &Api, method: Method, path: &str) -> (StatusCode, Value) {
    let response = api
        .http
        .request(method, api.url(path))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("request");
    json_of(response).await
}

/// A real prices worker whose handler fails every task permanently, until the token is cancelled.
fn failing_prices_worker(api: &Api) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let settings = api.settings.clone();
    let stop = CancellationToken::new();
    let s = stop.clone();
    let handle = tokio::spawn(async move {
        let conn = redis_conn::connect(&settings.redis).await.unwrap();
        let keys = Keys::new(settings.redis.key_prefix.clone());
        let mut queue = settings.queues.for_queue(&Queue::Prices.name());
        queue.max_retries = 0;
        queue.poll_interval_ms = 20;
        queue.concurrency = 1;
        let runtime = WorkerRuntime::new(
            redis_conn::client(&settings.redis).unwrap(),
            conn,
            keys,
            queue,
        );
        let handler = |_job: PricesJob, _ctx: JobContext| async {
            tokio::time::sleep(Duration::from_millis(3)).await;
            Err(JobError::permanent("coingecko refused the key (401)"))
        };
        runtime.run(handler, s).await.unwrap();
    });
    (stop, handle)
}

async fn wait_dead(api: &Api, id: TaskId) {
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let task = lookup_task(&conn, &keys, &Queue::Prices.name(), id)
            .await
            .unwrap();
        if task.is_some_and(|t| t.status == TaskStatus::Dead) {
            return;
        }
        assert!(Instant::now() < deadline, "task {id} never died");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn producer(api: &Api) -> Producer {
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    Producer::new(conn, keys, api.settings.queues.clone())
}

#[tokio::test]
async fn without_any_key_configured_admin_routes_answer_401_saying_how_to_make_one() {
    let api = Api::start_with(|s| {
        s.api.keys.clear();
        s.api.auth.jwt = None;
    })
    .await;
    for (method, path) in [
        (Method::POST, "/v1/admin/queues/prices/purge"),
        (Method::GET, "/v1/admin/queues/prices/dead"),
        (Method::POST, "/v1/admin/schedules/prices/pause"),
    ] {
        let response = api
            .http
            .request(method.clone(), api.url(path))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_error(&body, "unauthorized");
        assert_eq!(body["error"]["details"]["required_role"], "admin");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("coinbeat keys new --role admin"),
            "{message}"
        );
        // The key that worked before is nothing now.
        let (status, body) = admin(&api, method, path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(body["error"]["message"], "invalid or expired token");
    }
    let (status, _) = api.get_as("/v1/prices", None).await;
    assert_eq!(status, StatusCode::OK, "market reads stay public");
}

#[tokio::test]
async fn admin_routes_refuse_a_weaker_role_with_403_naming_both_roles() {
    let api = with_token().await;
    for (key, role) in [(READ_KEY, "read"), (ENQUEUE_KEY, "enqueue")] {
        let response = api
            .http
            .post(api.url("/v1/admin/queues/prices/purge"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {body}");
        assert_error(&body, "forbidden");
        assert_eq!(body["error"]["details"]["required_role"], "admin");
        assert_eq!(body["error"]["details"]["role"], role);
    }
}

#[tokio::test]
async fn admin_routes_refuse_a_missing_or_wrong_token_with_401_and_take_the_right_one() {
    let api = with_token().await;
    let url = api.url("/v1/admin/queues/prices/purge");
    let near = &ADMIN_KEY[..ADMIN_KEY.len() - 1];
    let cases = [
        None,
        Some("Bearer cbk_wrong".to_owned()),
        Some(format!("Bearer {near}")),
        Some(format!("Bearer {ADMIN_KEY}x")),
        Some("Basic Y29ycmVjdC1ob3JzZQ==".to_owned()),
        Some("Bearer".to_owned()),
        Some(format!(
            "Bearer {}",
            coinbeat_api::auth::api_key::sha256_hex(ADMIN_KEY)
        )),
    ];
    for auth in cases {
        let mut request = api.http.post(&url);
        if let Some(auth) = &auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let response = request.send().await.unwrap();
        let challenge = response.headers().get(header::WWW_AUTHENTICATE).cloned();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}: {body}");
        assert_error(&body, "unauthorized");
        assert!(
            challenge.is_some_and(|c| c.to_str().unwrap().starts_with("Bearer")),
            "{auth:?}"
        );
    }
    let (status, body) = admin(&api, Method::POST, "/v1/admin/queues/prices/purge").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = api
        .http
        .post(&url)
        .header(header::AUTHORIZATION, format!("bearer {ADMIN_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the scheme is case-insensitive"
    );
}

#[tokio::test]
async fn dead_letters_are_listed_shown_retried_and_purged_over_http() {
    let api = with_token().await;
    let (stop, worker) = failing_prices_worker(&api);
    let producer = producer(&api).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = producer
            .enqueue(&PricesJob::default(), EnqueueOptions::default())
            .await
            .unwrap();
        wait_dead(&api, id).await;
        ids.push(id);
    }

    // The worker is running: the public list shows it.
    let (status, body) = api.get("/v1/workers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let workers = body["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{body}");
    assert_eq!(workers[0]["queue"], "prices");
    assert_eq!(workers[0]["pid"], std::process::id());
    assert!(workers[0]["started_at"].is_string(), "{body}");
    assert!(workers[0]["last_heartbeat"].is_string(), "{body}");
    assert_eq!(workers[0]["live"], true);
    stop.cancel();
    worker.await.unwrap();

    let (status, page) = admin(&api, Method::GET, "/v1/admin/queues/prices/dead?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 3);
    assert_eq!(page["limit"], 2);
    let listed: Vec<&str> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [ids[2].to_string(), ids[1].to_string()],
        "newest first"
    );
    assert_eq!(
        page["tasks"][0]["last_error"],
        "coingecko refused the key (401)"
    );
    assert!(page["tasks"][0]["finished_at"].is_string(), "{page}");
    let (_, rest) = admin(
        &api,
        Method::GET,
        "/v1/admin/queues/prices/dead?limit=2&offset=2",
    )
    .await;
    assert_eq!(rest["tasks"][0]["id"], ids[0].to_string());

    let one = format!("/v1/admin/queues/prices/dead/{}", ids[0]);
    let (status, shown) = admin(&api, Method::GET, &one).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["status"], "dead");
    assert_eq!(shown["payload"], json!({}));
    assert_eq!(shown["attempts"], 1);

    let (status, retried) = admin(&api, Method::POST, &format!("{one}/retry")).await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["status"], "pending");
    let (_, task) = api.get(&format!("/v1/tasks/{}", ids[0])).await;
    assert_eq!(
        (task["status"].as_str(), task["attempts"].as_u64()),
        (Some("pending"), Some(0))
    );
    let (status, again) = admin(&api, Method::POST, &format!("{one}/retry")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_error(&again, "task_not_dead");
    assert_eq!(again["error"]["details"]["status"], "pending");
    let (status, body) = admin(&api, Method::GET, &one).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a waiting task is not shown as dead: {body}"
    );

    let (status, body) = admin(
        &api,
        Method::DELETE,
        &format!("/v1/admin/queues/prices/dead/{}", ids[1]),
    )
    .await;
    assert_eq!(
        (status, body["purged"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (status, _) = api.get(&format!("/v1/tasks/{}", ids[1])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "purged");

    let (status, body) = admin(&api, Method::POST, "/v1/admin/queues/prices/dead/retry").await;
    assert_eq!(
        (status, body["retried"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (status, body) = admin(&api, Method::DELETE, "/v1/admin/queues/prices/dead").await;
    assert_eq!(
        (status, body["purged"].as_u64()),
        (StatusCode::OK, Some(0)),
        "{body}"
    );
}

#[tokio::test]
async fn bad_admin_input_answers_4xx_in_the_one_error_shape() {
    let api = with_token().await;
    let unknown = TaskId::generate();
    let cases: [(Method, String, StatusCode, &str); 9] = [
        (
            Method::GET,
            "/v1/admin/queues/nope/dead".into(),
            StatusCode::NOT_FOUND,
            "unknown_queue",
        ),
        (
            Method::POST,
            "/v1/admin/queues/nope/purge".into(),
            StatusCode::NOT_FOUND,
            "unknown_queue",
        ),
        (
            Method::GET,
            format!("/v1/admin/queues/prices/dead/{unknown}"),
            StatusCode::NOT_FOUND,
            "task_not_found",
        ),
        (
            Method::POST,
            format!("/v1/admin/queues/prices/dead/{unknown}/retry"),
            StatusCode::NOT_FOUND,
            "task_not_found",
        ),
        (
            Method::DELETE,
            "/v1/admin/queues/prices/dead/not-a-ulid".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_task_id",
        ),
        (
            Method::GET,
            "/v1/admin/queues/prices/dead?limit=0".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
        ),
        (
            Method::GET,
            "/v1/admin/queues/prices/dead?offset=-1".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_offset",
        ),
        (
            Method::POST,
            "/v1/admin/schedules/nope/pause".into(),
            StatusCode::NOT_FOUND,
            "unknown_schedule",
        ),
        (
            Method::POST,
            "/v1/admin/schedules/nope/run".into(),
            StatusCode::NOT_FOUND,
            "unknown_schedule",
        ),
    ];
    for (method, path, want, code) in cases {
        let (status, body) = admin(&api, method, &path).await;
        assert_eq!(status, want, "{path}: {body}");
        assert_error(&body, code);
    }
    let (_, body) = admin(&api, Method::GET, "/v1/admin/queues/nope/dead").await;
    assert_eq!(body["error"]["details"]["valid_queues"][0], "prices");
    let (status, body) = api.get("/v1/schedules/nope/runs").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unknown_schedule");
}

#[tokio::test]
async fn purging_a_queue_over_http_deletes_its_waiting_tasks_and_reports_counts() {
    let api = with_token().await;
    // Two different jobs (an identical second one would join the first).
    for symbols in [json!(["BTC"]), json!(["ETH"])] {
        let body = json!({ "kind": "prices", "args": { "symbols": symbols } });
        let response = api.post("/v1/tasks", &body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let (status, body) = admin(&api, Method::POST, "/v1/admin/queues/prices/purge").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "queue": "prices", "waiting": 2, "delayed": 0 })
    );
    let (_, queues) = api.get("/v1/queues").await;
    let prices = queues["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "prices")
        .unwrap();
    assert_eq!(prices["waiting"], 0);
}

#[tokio::test]
async fn one_waiting_task_is_deleted_or_run_now_over_http_and_a_dead_one_is_refused() {
    let api = with_token().await;
    let producer = producer(&api).await;
    let job = |symbol: &str| PricesJob {
        symbols: Some(vec![symbol.parse().unwrap()]),
        ..PricesJob::default()
    };
    let waiting = producer
        .enqueue(&job("BTC"), EnqueueOptions::default())
        .await
        .unwrap();
    let delayed = producer
        .enqueue(
            &job("ETH"),
            EnqueueOptions {
                delay: Some(Duration::from_secs(3_600)),
                ..EnqueueOptions::default()
            },
        )
        .await
        .unwrap();
    let depth = |queues: Value| {
        let prices = queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["queue"] == "prices")
            .unwrap()
            .clone();
        (
            prices["waiting"].clone(),
            prices["scheduled_future"].clone(),
        )
    };

    let path = format!("/v1/admin/queues/prices/tasks/{waiting}");
    let (status, body) = admin(&api, Method::DELETE, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "id": waiting.to_string(), "queue": "prices", "was": "active" })
    );
    let (status, _) = api.get(&format!("/v1/tasks/{waiting}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted with its record");
    let (status, body) = admin(&api, Method::DELETE, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "task_not_found");

    let path = format!("/v1/admin/queues/prices/tasks/{delayed}/run");
    let (status, body) = admin(&api, Method::POST, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["was"], "delayed", "{body}");
    assert_eq!(body["status"], "pending", "{body}");
    assert_eq!(body["status_url"], format!("/v1/tasks/{delayed}"));
    let (_, queues) = api.get("/v1/queues").await;
    assert_eq!(depth(queues), (json!(1), json!(0)), "ready to run now");
    // The same task under another queue's path is not found there.
    let path = format!("/v1/admin/queues/market/tasks/{delayed}");
    let (status, body) = admin(&api, Method::DELETE, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "task_not_found");
    let (status, body) = admin(&api, Method::DELETE, "/v1/admin/queues/prices/tasks/nope").await;
    assert!(status.is_client_error(), "{status} {body}");

    // A dead task is not waiting: its own routes retry or purge it.
    let (stop, worker) = failing_prices_worker(&api);
    wait_dead(&api, delayed).await;
    stop.cancel();
    worker.await.unwrap();
    for (method, path) in [
        (
            Method::DELETE,
            format!("/v1/admin/queues/prices/tasks/{delayed}"),
        ),
        (
            Method::POST,
            format!("/v1/admin/queues/prices/tasks/{delayed}/run"),
        ),
    ] {
        let (status, body) = admin(&api, method, &path).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_error(&body, "task_not_waiting");
        assert_eq!(body["error"]["details"]["status"], "dead", "{body}");
    }
    let (status, _) = api.get(&format!("/v1/tasks/{delayed}")).await;
    assert_eq!(status, StatusCode::OK, "a refused delete keeps the task");
}

#[tokio::test]
async fn a_schedule_entry_is_paused_run_now_and_resumed_over_http_and_its_runs_listed() {
    let api = with_token().await;
    let (status, paused) = admin(&api, Method::POST, "/v1/admin/schedules/prices/pause").await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["paused"], true);
    assert!(paused["paused_at"].is_string(), "{paused}");
    let (_, table) = api.get("/v1/schedules").await;
    let entry = |name: &str| {
        table["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(entry("prices")["paused"], true);
    assert_eq!(entry("market")["paused"], false);

    let response = api
        .http
        .post(api.url("/v1/admin/schedules/prices/run"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    let location = response.headers().get(header::LOCATION).cloned();
    let (status, run) = json_of(response).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["trigger"], "manual");
    let id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(location.unwrap(), format!("/v1/tasks/{id}").as_str());

    let (status, runs) = api.get("/v1/schedules/prices/runs").await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["task_id"], id);
    assert_eq!(runs[0]["trigger"], "manual");
    assert_eq!(runs[0]["outcome"], "pending");

    let (status, resumed) = admin(&api, Method::POST, "/v1/admin/schedules/prices/resume").await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["paused"], false);
    assert!(resumed["resumed_at"].is_string(), "{resumed}");
    let (_, table) = api.get("/v1/schedules").await;
    let prices = table["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "prices")
        .unwrap()
        .clone();
    assert_eq!(prices["paused"], false);
}
