//! The API's hardening, over real HTTP: a request id on every answer (a caller's own kept when
//! it is 1 to 64 of `[A-Za-z0-9._-]`, any other replaced), the security headers, CORS only for the configured origins, and
//! the per-client request rate (429 with `Retry-After` in the one error shape).

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::support::{ADMIN_KEY, Api, READ_KEY, json};

#[tokio::test]
async fn every_answer_carries_a_request_id_and_the_security_headers() {
    let api = Api::start().await;
    for path in ["/healthz", "/v1/prices/BTC", "/v1/nope"] {
        let response = api.http.get(api.url(path)).send().await.unwrap();
        let headers = response.headers();
        let id = headers["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 26, "a ULID for {path}: {id}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
    }
    // Two requests, two ids.
    let ids: Vec<String> = futures_ids(&api, 2).await;
    assert_ne!(ids[0], ids[1]);

    let kept = api
        .http
        .get(api.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-me-42");
    let replaced = api
        .http
        .get(api.url("/healthz"))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replaced.headers()["x-request-id"].to_str().unwrap().len(),
        26,
        "an id longer than 64 characters is replaced"
    );
}

#[tokio::test]
async fn a_callers_request_id_is_kept_only_when_it_cannot_forge_a_log_field() {
    let api = Api::start().await;
    let echoed = async |id: &str| -> String {
        let response = api
            .http
            .get(api.url("/healthz"))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    for kept in ["trace-me-42", "svc_a.req-7", &"a".repeat(64)] {
        assert_eq!(echoed(kept).await, kept);
    }
    for forged in [
        r#"abc" level=error msg="forged"#,
        "two words",
        &"a".repeat(200),
    ] {
        let id = echoed(forged).await;
        assert!(
            ulid::Ulid::from_string(&id).is_ok(),
            "{forged:?} came back as {id:?}, not a fresh ULID"
        );
    }
}

async fn futures_ids(api: &Api, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let response = api.http.get(api.url("/healthz")).send().await.unwrap();
        ids.push(
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let open = Api::start_with(|s| {
        s.api.cors_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let allowed = open
        .http
        .get(open.url("/v1/prices/BTC"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = open
        .http
        .get(open.url("/v1/prices/BTC"))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    let preflight = open
        .http
        .request(Method::OPTIONS, open.url("/v1/tasks"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert!(
        preflight.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        !preflight
            .headers()
            .contains_key("access-control-allow-credentials")
    );

    let closed = Api::start().await;
    let response = closed
        .http
        .get(closed.url("/v1/prices/BTC"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn an_unusable_cors_origin_stops_the_api_at_start_naming_it() {
    let api = Api::start_with(|s| s.api.cors_origins = vec!["app.example.com".into()]).await;
    let mut api = api;
    let server = api.server.take().unwrap();
    let err = server.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("app.example.com"), "{err}");
}

#[tokio::test]
async fn a_client_past_its_rate_gets_429_with_retry_after_and_others_are_served() {
    let api = Api::start_with(|s| {
        s.api.client_rate_per_sec = 2;
        s.api.client_burst = 5;
    })
    .await;
    for i in 0..5 {
        let (status, _) = api.get_as("/healthz", None).await;
        assert_eq!(status, StatusCode::OK, "request {i} is within the burst");
    }
    let refused = api
        .http
        .get(api.url("/v1/prices/BTC"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1);
    let (_, body) = json(refused).await;
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // Half a second brings one request back.
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(api.get_as("/healthz", None).await.0, StatusCode::OK);
    assert_eq!(
        api.get_as("/healthz", None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    // With the limit off, a burst far past it is served.
    let unlimited = Api::start_with(|s| s.api.client_rate_per_sec = 0).await;
    for _ in 0..50 {
        assert_eq!(unlimited.get("/healthz").await.0, StatusCode::OK);
    }
}

/// One client's rate holds across its connections, whichever serving thread each lands on:
/// the buckets are the process's, not a thread's.
#[tokio::test]
async fn a_clients_rate_holds_across_its_connections_on_every_serving_thread() {
    let api = Api::start_with(|s| {
        s.api.client_rate_per_sec = 1;
        s.api.client_burst = 4;
        s.api.serving_threads = 4;
    })
    .await;
    let mut statuses = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..8 {
        // A client of its own per request: a connection of its own, kept open (idle in the
        // client's pool), so the next one goes to another thread.
        let client = reqwest::Client::new();
        let status = client
            .get(api.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        statuses.push(status.as_u16());
        clients.push(client);
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        4,
        "the burst, and no more, over 8 connections: {statuses:?}"
    );
    assert!(statuses[4..].iter().all(|&s| s == 429), "{statuses:?}");
}

/// A request with a valid key is counted against its key, anything else against its address:
/// a keyed caller's load does not refuse the address's anonymous requests (which would answer
/// 429 where 401 is due), and tokens that do not verify buy no bucket of their own.
#[tokio::test]
async fn a_valid_key_has_its_own_bucket_and_an_invalid_token_counts_against_the_address() {
    let api = Api::start_with(|s| {
        s.api.client_rate_per_sec = 1;
        s.api.client_burst = 2;
    })
    .await;
    let get = |token: Option<&str>| {
        let request = api.http.get(api.url("/v1/queues"));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    for _ in 0..2 {
        assert_eq!(get(Some(ADMIN_KEY)).await.unwrap().status(), 200);
    }
    assert_eq!(
        get(Some(ADMIN_KEY)).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the key's burst is spent"
    );
    assert_eq!(
        get(Some(READ_KEY)).await.unwrap().status(),
        200,
        "another key has its own bucket"
    );
    assert_eq!(
        get(None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "the address's bucket is untouched by the keys: no token is 401, not 429"
    );
    assert_eq!(
        get(Some("cbk_not_a_key")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(Some("cbk_another_bad_one")).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "tokens that do not verify share the address's bucket"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket_and_elsewhere_the_header_is_ignored()
 {
    let get = |api: &Api, forwarded: &'static str| {
        api.http
            .get(api.url("/healthz"))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    let behind = Api::start_with(|s| {
        s.api.client_rate_per_sec = 1;
        s.api.client_burst = 1;
        s.api.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    assert_eq!(get(&behind, "203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(get(&behind, "203.0.113.2").await.unwrap().status(), 200);
    assert_eq!(
        get(&behind, "203.0.113.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the same forwarded client again"
    );

    let direct = Api::start_with(|s| {
        s.api.client_rate_per_sec = 1;
        s.api.client_burst = 1;
    })
    .await;
    assert_eq!(get(&direct, "203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(
        get(&direct, "203.0.113.2").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a header from an untrusted peer does not make a new client"
    );
}
