//! `POST /v1/tasks` and `GET /v1/tasks/{id}`.

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::support::{ADMIN_KEY, Api, ENQUEUE_KEY, assert_error, json};

#[tokio::test]
async fn a_posted_task_is_accepted_with_its_location_and_is_pending_in_the_prices_queue() {
    let api = Api::start().await;

    let response = api
        .post(
            "/v1/tasks",
            &json!({"kind": "prices", "args": {"symbols": ["btc"]}}),
        )
        .await;
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json(response).await;

    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    assert_eq!(body["queue"], "prices");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["status_url"], format!("/v1/tasks/{id}"));
    assert_eq!(
        location.as_deref(),
        Some(format!("/v1/tasks/{id}").as_str())
    );

    let (status, task) = api
        .get_as(&format!("/v1/tasks/{id}"), Some(ADMIN_KEY))
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(task["id"], id);
    assert_eq!(task["queue"], "prices");
    assert_eq!(task["status"], "pending");
    assert_eq!(task["payload"], json!({"symbols": ["BTC"]}));
    assert_eq!(task["attempts"], 0);
    assert_eq!(task["max_attempts"], 4, "max_retries 3 + the first attempt");
    assert!(
        task["result"].is_null() && task["finished_at"].is_null(),
        "{task}"
    );
    let enqueued_at = task["enqueued_at"].as_str().expect("an RFC 3339 time");
    let enqueued_at = chrono::DateTime::parse_from_rfc3339(enqueued_at).expect("RFC 3339");
    let age = chrono::Utc::now() - enqueued_at.to_utc();
    assert!(age.num_seconds().abs() < 60, "{task}");

    let (_, queues) = api.get("/v1/queues").await;
    assert_eq!(queues["queues"][0]["queue"], "prices", "{queues}");
    assert_eq!(queues["queues"][0]["waiting"], 1, "{queues}");
}

#[tokio::test]
async fn a_task_without_args_is_accepted() {
    let api = Api::start().await;
    let (status, body) = json(api.post("/v1/tasks", &json!({"kind": "health"})).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["queue"], "health");
}

#[tokio::test]
async fn malformed_json_is_a_400_in_the_error_shape() {
    let api = Api::start().await;
    let response = api
        .http
        .post(api.url("/v1/tasks"))
        .bearer_auth(ENQUEUE_KEY)
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"kind": "prices","#)
        .send()
        .await
        .unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "invalid_json");
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_a_422() {
    let api = Api::start().await;
    for body in [
        json!({"args": {}}),
        json!({"kind": 7}),
        json!({"kind": "prices", "arg": {}}),
    ] {
        let (status, answer) = json(api.post("/v1/tasks", &body).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_error(&answer, "invalid_body");
    }
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_a_415() {
    let api = Api::start().await;
    let response = api
        .http
        .post(api.url("/v1/tasks"))
        .bearer_auth(ENQUEUE_KEY)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(r#"{"kind": "prices"}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_error(&body, "unsupported_media_type");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_in_the_error_shape() {
    let api = Api::start_with(|s| s.api.max_body_bytes = 256).await;
    let big = json!({"kind": "prices", "args": {"symbols": vec!["BTC"; 100]}});
    let (status, body) = json(api.post("/v1/tasks", &big).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_error(&body, "payload_too_large");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("256"),
        "{body}"
    );
}

#[tokio::test]
async fn an_unknown_kind_is_a_422_naming_the_valid_kinds() {
    let api = Api::start().await;
    let (status, body) = json(api.post("/v1/tasks", &json!({"kind": "weather"})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "unknown_kind");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("weather"), "{message}");
    assert!(
        message.contains("prices") && message.contains("cleanup"),
        "{message}"
    );
    assert_eq!(
        body["error"]["details"]["valid_kinds"],
        json!([
            "prices",
            "market",
            "wallet",
            "health",
            "cleanup",
            "catalogue",
            "history",
            "rates",
            "alerts"
        ])
    );
}

#[tokio::test]
async fn bad_args_are_a_422_with_the_reason_and_enqueue_nothing() {
    let api = Api::start().await;
    // Well-formed symbols no coin has: 404, as reading an unknown coin is.
    let unknown = json!({"kind": "prices", "args": {"symbols": ["NOPE"]}});
    let (status, body) = json(api.post("/v1/tasks", &unknown).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unknown_coin");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("NOPE"),
        "{body}"
    );
    let cases = [
        (
            json!({"kind": "prices", "args": {"symbols": ["B-TC"]}}),
            "B-TC",
        ),
        (json!({"kind": "market", "args": {"limit": 0}}), "limit"),
        (json!({"kind": "prices", "args": [1]}), "JSON object"),
        // Deliveries come from price updates that cross an alert, never from a request.
        (json!({"kind": "alerts", "args": {}}), "POST /v1/alerts"),
    ];
    for (request, mentions) in cases {
        let (status, body) = json(api.post("/v1/tasks", &request).await).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{request}: {body}"
        );
        assert_error(&body, "invalid_args");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{request}: {message}");
    }
    let (_, queues) = api.get("/v1/queues").await;
    for q in queues["queues"].as_array().unwrap() {
        assert_eq!(q["waiting"], 0, "{q}");
    }
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after() {
    let api = Api::start_with(|s| s.queues.defaults.max_backlog = 1).await;
    let request = json!({"kind": "prices"});
    let first = api.post("/v1/tasks", &request).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);

    let second = api.post("/v1/tasks", &request).await;
    let retry_after = second
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json(second).await;

    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_error(&body, "queue_full");
    let secs: u64 = retry_after.expect("a Retry-After header").parse().unwrap();
    assert!(secs > 0);
    let (_, queues) = api.get("/v1/queues").await;
    assert_eq!(
        queues["queues"][0]["waiting"], 1,
        "the refused task wrote nothing"
    );
}

#[tokio::test]
async fn a_held_idempotency_key_answers_409_with_the_existing_task_id() {
    let api = Api::start().await;
    let request = json!({"kind": "cleanup", "idempotency_key": "nightly-2024-05-01"});
    let (status, first) = json(api.post("/v1/tasks", &request).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");

    let (status, body) = json(api.post("/v1/tasks", &request).await).await;

    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "duplicate");
    assert_eq!(body["error"]["details"]["existing_task_id"], first["id"]);
}

#[tokio::test]
async fn an_unknown_task_id_is_a_404() {
    let api = Api::start().await;
    let (status, body) = api.get("/v1/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "task_not_found");
}

#[tokio::test]
async fn a_malformed_task_id_is_a_422() {
    let api = Api::start().await;
    let (status, body) = api.get("/v1/tasks/not-a-ulid").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_task_id");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_a_413_in_the_error_shape_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Without a Content-Length the limit is only found while reading, by the JSON extractor.
    let api = Api::start_with(|s| s.api.max_body_bytes = 256).await;
    let addr = api.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let chunk = format!(
        r#"{{"kind": "prices", "args": {{"symbols": [{}]}}}}"#,
        r#""BTC","#.repeat(100)
    );
    let request = format!(
        "POST /v1/tasks HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {ENQUEUE_KEY}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();

    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    let body = &response[response.find("\r\n\r\n").expect("a body") + 4..];
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_error(&body, "payload_too_large");
}
