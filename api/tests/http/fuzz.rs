//! Malformed input at every route of the route table: hostile path segments, queries, headers
//! and bodies, generated deterministically (a fixed seed, so a failure reproduces). Nothing may
//! answer 5xx (a panic would be a 500 from the catcher), and a body over the limit is 413.

use coinbeat_api::routes::endpoints;
use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::{Method, StatusCode};

use crate::support::{ADMIN_KEY, Api};

/// Values for a path parameter that no handler should trust.
fn hostile_segments() -> Vec<String> {
    vec![
        "%00".into(),
        "%FF%FE".into(),
        "..%2F..%2Fetc%2Fpasswd".into(),
        "%F0%9F%98%80".into(),
        "'%20OR%201=1%20--".into(),
        "%3Cscript%3E".into(),
        format!("0x{}", "g".repeat(40)),
        "-1".into(),
        "99999999999999999999999999999".into(),
        "A".repeat(5_000),
        "btc".into(),
        "0x".into(),
    ]
}

fn hostile_queries() -> Vec<String> {
    vec![
        "?limit=-1".into(),
        "?limit=abc".into(),
        "?limit=99999999999999999999999".into(),
        format!("?symbols={}", ",".repeat(2_000)),
        "?symbols=%00,%FF".into(),
        "?since=yesterday&until=-5&step=0s".into(),
        "?since=99999999999999999999&step=1y".into(),
        "?chain=mars".into(),
        "?offset=-3&limit=0".into(),
        "?%zz=1&&&=".into(),
    ]
}

fn hostile_bodies(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let mut random = vec![0u8; 512];
    rng.fill(&mut random[..]);
    vec![
        Vec::new(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{\"kind\":".to_vec(),
        b"{\"kind\": 1e999, \"args\": [1,2,3]}".to_vec(),
        b"{\"holdings\": [{\"symbol\": \"BTC\", \"amount\": \"1e400\"}]}".to_vec(),
        b"{\"symbols\": [\"\\u0000\"]}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        "[".repeat(10_000).into_bytes(),
        random,
    ]
}

#[tokio::test]
async fn malformed_paths_queries_headers_and_bodies_never_get_a_5xx() {
    let api = Api::start_with(|s| {
        // What is under test is the handling, not the per-client limit.
        s.api.client_rate_per_sec = 0;
    })
    .await;
    let mut rng = StdRng::seed_from_u64(0x00c0_1b3a);
    let mut sent = 0usize;
    let mut failures = Vec::new();
    let bodies = hostile_bodies(&mut rng);
    for (method, template, _) in endpoints() {
        let mut paths = vec![template.to_owned()];
        if template.contains('{') {
            for value in hostile_segments() {
                let mut path = String::new();
                for part in template.split('/') {
                    if part.starts_with('{') {
                        path.push('/');
                        path.push_str(&value);
                    } else if !part.is_empty() {
                        path.push('/');
                        path.push_str(part);
                    }
                }
                paths.push(path);
            }
        }
        let concrete = paths[0].replace(['{', '}'], "");
        for query in hostile_queries() {
            paths.push(format!("{concrete}{query}"));
        }
        for path in &paths {
            // As admin, so every handler sees the input, not only the auth check.
            let mut request = api
                .http
                .request(method.clone(), api.url(path))
                .bearer_auth(ADMIN_KEY);
            if method == Method::POST || method == Method::DELETE {
                let body = bodies[rng.random_range(0..bodies.len())].clone();
                request = request
                    .header("content-type", "application/json")
                    .body(body);
            }
            let response = request.send().await;
            sent += 1;
            match response {
                Ok(r) if r.status().is_server_error() => failures.push(format!(
                    "{method} {} -> {}",
                    &path[..path.len().min(120)],
                    r.status()
                )),
                Ok(_) => {}
                Err(e) => failures.push(format!("{method} {path}: no answer: {e}")),
            }
        }
        // Every body at the one route that takes the most input, and hostile headers everywhere.
        if method == Method::POST {
            for body in &bodies {
                let r = api
                    .http
                    .request(method.clone(), api.url(&concrete))
                    .bearer_auth(ADMIN_KEY)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                sent += 1;
                if r.status().is_server_error() {
                    failures.push(format!(
                        "{method} {concrete} with a hostile body -> {}",
                        r.status()
                    ));
                }
            }
        }
        for (name, value) in [
            ("content-type", "text/x-nonsense; charset=%%%"),
            ("authorization", "Bearer \u{7f}not-a-token"),
            ("authorization", "Basic Zm9vOmJhcg=="),
            ("x-request-id", "\t"),
            ("accept", "*/*; q=banana"),
        ] {
            let r = api
                .http
                .request(method.clone(), api.url(&concrete))
                .header(name, value)
                .send()
                .await;
            sent += 1;
            if let Ok(r) = r
                && r.status().is_server_error()
            {
                failures.push(format!(
                    "{method} {concrete} with {name}: {value:?} -> {}",
                    r.status()
                ));
            }
        }
    }
    assert!(sent > 500, "{sent} requests");
    assert!(
        failures.is_empty(),
        "{} of {sent} answered 5xx:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // A body over the limit is 413 wherever a body is taken.
    let big = vec![b'x'; api.settings.api.max_body_bytes + 1];
    for (method, template, _) in endpoints() {
        if method != Method::POST {
            continue;
        }
        let path = template.replace(['{', '}'], "");
        let r = api
            .http
            .request(method.clone(), api.url(&path))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == StatusCode::PAYLOAD_TOO_LARGE,
            "{method} {path} with an oversize body -> {}",
            r.status()
        );
    }
}
