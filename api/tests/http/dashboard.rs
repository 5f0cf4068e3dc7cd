//! What the dashboard stands on: its page and assets (same-origin policy, compiled in),
//! `GET /v1/me`, a queue's history and its tasks by state, and pausing a queue, over HTTP.
//! Bad input answers 4xx in the one error shape.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, Api, READ_KEY, assert_error, json as json_of};

#[tokio::test]
async fn the_page_and_each_asset_are_served_with_a_same_origin_policy_and_nothing_else_is() {
    let api = Api::start().await;
    let page = api.http.get(api.url("/ui")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    for name in coinbeat_api::dashboard::asset_names() {
        let response = api
            .http
            .get(api.url(&format!("/ui/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let kind = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            kind.starts_with(if name.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            }),
            "{name}: {kind}"
        );
        let body = response.text().await.unwrap();
        // No script builds markup from strings, and nothing names another origin.
        assert!(
            !body.contains("innerHTML") && !body.contains("https://"),
            "{name}"
        );
    }
    let (status, body) = json_of(api.http.get(api.url("/ui/nope.js")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
}

#[tokio::test]
async fn me_says_what_the_caller_may_do_and_refuses_a_token_it_cannot_accept() {
    let api = Api::start().await;
    let (status, anonymous) = api.get_as("/v1/me", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(anonymous["role"], Value::Null);
    assert_eq!(anonymous["may"]["market_reads"], true);
    assert_eq!(anonymous["may"]["queues"], false);
    assert_eq!(anonymous["may"]["admin"], false);

    let (_, read) = api.get_as("/v1/me", Some(READ_KEY)).await;
    assert_eq!(read["role"], "read");
    assert!(read["caller"].as_str().unwrap().starts_with("key:"));
    assert_eq!(read["may"]["queues"], true);
    assert_eq!(read["may"]["enqueue"], false);
    assert_eq!(read["may"]["admin"], false);

    let (_, admin) = api.get_as("/v1/me", Some(ADMIN_KEY)).await;
    assert_eq!(admin["role"], "admin");
    assert_eq!(admin["may"]["enqueue"], true);
    assert_eq!(admin["may"]["admin"], true);

    let (status, body) = api.get_as("/v1/me", Some("cbk_not-a-key")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");
}

#[tokio::test]
async fn a_queue_paused_over_http_says_so_in_the_queue_list_until_resumed() {
    let api = Api::start().await;
    let call = async |path: &str| {
        json_of(
            api.http
                .post(api.url(path))
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let paused_in_list = async || {
        let (_, body) = api.get("/v1/queues").await;
        body["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["queue"] == "market")
            .unwrap()["paused"]
            .clone()
    };
    assert_eq!(paused_in_list().await, false);
    let (status, body) = call("/v1/admin/queues/market/pause").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["paused"].clone(), body["changed"].clone()),
        (json!(true), json!(true))
    );
    assert!(body["paused_since"].is_string());
    let (_, again) = call("/v1/admin/queues/market/pause").await;
    assert_eq!(again["changed"], false);
    assert_eq!(again["paused_since"], body["paused_since"]);
    assert_eq!(paused_in_list().await, true);
    let (_, resumed) = call("/v1/admin/queues/market/resume").await;
    assert_eq!(
        (resumed["paused"].clone(), resumed["changed"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(paused_in_list().await, false);
    let (status, body) = call("/v1/admin/queues/nope/pause").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "unknown_queue");
}

#[tokio::test]
async fn history_and_task_pages_answer_in_their_shape_and_refuse_what_they_cannot_read() {
    let api = Api::start().await;
    let (status, minutes) = api.get("/v1/queues/prices/history").await;
    assert_eq!(status, StatusCode::OK, "{minutes}");
    assert_eq!(minutes["resolution"], "minute");
    assert_eq!(minutes["buckets"].as_array().unwrap().len(), 1440);
    let (_, hours) = api
        .get("/v1/queues/prices/history?resolution=hour&points=3")
        .await;
    let buckets = hours["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 3);
    assert_eq!(buckets[2]["done"], 0);
    // The schema allows up to 1440 at either resolution: more hours than the 720 kept are
    // the 720, not a refusal of a request the document says is valid.
    let (status, hours) = api
        .get("/v1/queues/prices/history?resolution=hour&points=721")
        .await;
    assert_eq!(status, StatusCode::OK, "{hours}");
    assert_eq!(hours["buckets"].as_array().unwrap().len(), 720);
    for bad in ["resolution=day", "points=0", "points=1441", "points=x"] {
        let (status, body) = api.get(&format!("/v1/queues/prices/history?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_error(&body, "invalid_query");
    }
    let (status, body) = api.get("/v1/queues/nope/history").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "unknown_queue");

    // A waiting task, listed; its arguments only to an admin.
    let response = api
        .post(
            "/v1/tasks",
            &json!({"kind": "market", "args": {"limit": 7}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (status, page) = api.get("/v1/queues/market/tasks").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (page["state"].clone(), page["total"].clone()),
        (json!("waiting"), json!(1))
    );
    assert_eq!(page["tasks"][0]["status"], "pending");
    assert!(page["tasks"][0].get("args").is_none(), "{page}");
    let (_, page) = api
        .get_as("/v1/queues/market/tasks?state=waiting", Some(ADMIN_KEY))
        .await;
    assert_eq!(page["tasks"][0]["args"]["limit"], 7, "{page}");
    let (_, done) = api
        .get("/v1/queues/market/tasks?state=done&limit=10&offset=0")
        .await;
    assert_eq!(done["total"], 0);
    for (query, code) in [
        ("state=finished", "invalid_query"),
        ("limit=0", "invalid_limit"),
        ("offset=-1", "invalid_offset"),
    ] {
        let (status, body) = api.get(&format!("/v1/queues/market/tasks?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_error(&body, code);
    }
}

#[tokio::test]
async fn a_search_finds_tasks_by_arguments_for_admins_only_and_by_error_for_readers() {
    let api = Api::start().await;
    for limit in [3, 11] {
        let response = api
            .post(
                "/v1/tasks",
                &json!({"kind": "market", "args": {"limit": limit}}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let (status, found) = api
        .get_as("/v1/tasks?args=%22LIMIT%22%3A11", Some(ADMIN_KEY))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let tasks = found["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{found}");
    assert_eq!(tasks[0]["args"]["limit"], 11);
    assert_eq!(
        (tasks[0]["state"].clone(), tasks[0]["queue"].clone()),
        (json!("waiting"), json!("market"))
    );
    assert_eq!(found["complete"], true);

    // By its id, the same task.
    let id = tasks[0]["id"].as_str().unwrap();
    let (_, by_id) = api.get(&format!("/v1/tasks?id={id}")).await;
    assert_eq!(by_id["tasks"][0]["id"], id, "{by_id}");
    assert!(
        by_id["tasks"][0].get("args").is_none(),
        "a reader sees no arguments"
    );

    // A reader may not search arguments (they are shown to admins only), but may search
    // errors and states.
    let (status, body) = api.get("/v1/tasks?args=limit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "forbidden");
    let (status, body) = api.get("/v1/tasks?state=waiting&queue=market").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["tasks"].as_array().unwrap().len(), 2);
    let (_, body) = api.get("/v1/tasks?error=anything&state=dead").await;
    assert_eq!(body["tasks"], json!([]));

    for (query, code) in [
        ("state=lost", "invalid_query"),
        ("since=yesterday", "invalid_query"),
        ("limit=1001", "invalid_limit"),
        ("queue=nope", "invalid_query"),
        ("id=not-a-task-id", "invalid_task_id"),
    ] {
        let (status, body) = api.get(&format!("/v1/tasks?{query}")).await;
        assert!(status.is_client_error(), "{query}: {status} {body}");
        assert_error(&body, code);
    }
    let long = "x".repeat(201);
    let (status, body) = api.get(&format!("/v1/tasks?error={long}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "invalid_query");
}
