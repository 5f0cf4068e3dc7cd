//! Who may call what: every route of the router (from the one table it is built from) against
//! every kind of caller, with public reads on and off; and JWTs: expired, wrong algorithm,
//! wrong key, missing claims, `none`, RS256, issuer, audience and lifetime.

use coinbeat_api::{auth::Access, routes};
use coinbeat_shared::settings::{JwtAlgorithm, JwtSettings, Role, Secret, StatusRead};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{
    ADMIN_KEY, Api, ENQUEUE_KEY, JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, READ_KEY, assert_error, json,
};

const RS256_PRIVATE: &str = include_str!("fixtures/jwt_rs256_private.pem");
const RS256_PUBLIC: &str = include_str!("fixtures/jwt_rs256_public.pem");
/// `{"alg":"none","typ":"JWT"}.{"role":"admin","exp":4102444800}.` (no signature).
const NONE_TOKEN: &str =
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJyb2xlIjoiYWRtaW4iLCJleHAiOjQxMDI0NDQ4MDB9.";
/// The same with `"alg":"None"`.
const NONE_TOKEN_CAPITAL: &str =
    "eyJhbGciOiJOb25lIiwidHlwIjoiSldUIn0.eyJyb2xlIjoiYWRtaW4iLCJleHAiOjQxMDI0NDQ4MDB9.";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims of an admin token the test deployment's identity provider issues (its `iss` and
/// `aud`, `iat` now, `exp` in ten minutes) with `changes` on top; a `null` leaves a claim out.
fn idp(changes: Value) -> Value {
    let mut claims = json!({
        "role": "admin",
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "iat": now(),
        "exp": now() + 600,
    });
    let object = claims.as_object_mut().unwrap();
    for (name, value) in changes.as_object().unwrap() {
        match value {
            Value::Null => object.remove(name),
            _ => object.insert(name.clone(), value.clone()),
        };
    }
    claims
}

fn hs256(secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn rs256(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_pem(RS256_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A path of the template with every parameter filled by a well-formed value.
fn concrete(template: &str) -> String {
    template
        .replace("{symbol}", "BTC")
        .replace("{address}", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
        .replace("{queue}", "prices")
        .replace("{entry}", "prices")
        .replace("{id}", "01J0000000000000000000000Z")
        .replace("{asset}", "app.js")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    Key(Role),
    ExpiredJwt,
    AdminJwt,
}

impl Caller {
    const ALL: [Caller; 6] = [
        Caller::Anonymous,
        Caller::Key(Role::Read),
        Caller::Key(Role::Enqueue),
        Caller::Key(Role::Admin),
        Caller::ExpiredJwt,
        Caller::AdminJwt,
    ];

    fn token(self) -> Option<String> {
        match self {
            Caller::Anonymous => None,
            Caller::Key(Role::Read) => Some(READ_KEY.into()),
            Caller::Key(Role::Enqueue) => Some(ENQUEUE_KEY.into()),
            Caller::Key(Role::Admin) => Some(ADMIN_KEY.into()),
            Caller::ExpiredJwt => Some(hs256(
                JWT_SECRET,
                &idp(json!({"iat": now() - 4_000, "exp": now() - 3_600})),
            )),
            Caller::AdminJwt => Some(hs256(JWT_SECRET, &idp(json!({})))),
        }
    }

    /// The status class the gate must answer with for a route needing `need`.
    fn expected(self, need: Option<Role>) -> Expect {
        let Some(need) = need else {
            return Expect::Through;
        };
        match self {
            Caller::Anonymous | Caller::ExpiredJwt => Expect::Unauthorized,
            Caller::AdminJwt => Expect::Through,
            Caller::Key(have) if have >= need => Expect::Through,
            Caller::Key(_) => Expect::Forbidden,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Expect {
    Unauthorized,
    Forbidden,
    /// Past the gate: whatever the handler says (2xx, or a 4xx such as 404/415/422), but never
    /// 401 or 403, and never a server error.
    Through,
}

#[test]
fn the_route_table_gives_admin_to_every_admin_route_and_enqueue_to_every_other_post_and_to_alerts()
{
    // POSTs that only read the cache (valuing holdings) are reads.
    const READING_POSTS: [&str; 1] = ["/v1/portfolio/value"];
    // A caller's price alerts are its own: reading them needs the role that makes them.
    const OWN_ALERTS: [&str; 2] = ["/v1/alerts", "/v1/alerts/{id}"];
    let table = routes::endpoints();
    assert!(table.len() >= 35, "{} routes", table.len());
    let mut seen = std::collections::HashSet::new();
    for (method, path, access) in &table {
        assert!(
            seen.insert((method.clone(), *path)),
            "{method} {path} twice"
        );
        let status = [
            ("/metrics", StatusRead::Metrics),
            ("/v1/tasks/{id}", StatusRead::Tasks),
            ("/v1/tasks", StatusRead::Tasks),
            ("/v1/queues", StatusRead::Queues),
            ("/v1/queues/{queue}/history", StatusRead::Queues),
            ("/v1/queues/{queue}/tasks", StatusRead::Tasks),
            ("/v1/schedules", StatusRead::Schedules),
            ("/v1/schedules/{entry}/runs", StatusRead::Schedules),
            ("/v1/workers", StatusRead::Workers),
            ("/v1/health", StatusRead::Health),
            ("/v1/rate-limits", StatusRead::Health),
            ("/v1/status", StatusRead::Health),
        ];
        let want = if path.starts_with("/v1/admin/") {
            Access::Admin
        } else if let Some((_, read)) = status
            .iter()
            .find(|(p, _)| p == path && *method == Method::GET)
        {
            Access::Status(*read)
        } else if [
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/docs",
            "/docs/docs.js",
            "/docs/docs.css",
            "/ui",
            "/ui/{asset}",
            "/v1/me",
        ]
        .contains(path)
        {
            Access::Public
        } else if OWN_ALERTS.contains(path) {
            Access::Enqueue
        } else if *method == Method::GET || READING_POSTS.contains(path) {
            Access::Read
        } else {
            Access::Enqueue
        };
        assert_eq!(*access, want, "{method} {path}");
    }
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_its_access_rule_says() {
    let every_status = vec![
        StatusRead::Workers,
        StatusRead::Queues,
        StatusRead::Schedules,
        StatusRead::Health,
        StatusRead::Tasks,
        StatusRead::Metrics,
    ];
    for (public_reads, public_status) in [
        (true, vec![]),
        (false, vec![]),
        (false, every_status.clone()),
        (true, vec![StatusRead::Queues]),
    ] {
        let api = Api::start_with(|s| {
            s.api.auth.public_reads = public_reads;
            s.api.auth.public_status = public_status.clone();
            // Hundreds of requests from one address: the per-client limit is not under test.
            s.api.client_rate_per_sec = 0;
        })
        .await;
        let mut checked = 0;
        for (method, template, access) in routes::endpoints() {
            let path = concrete(template);
            let need = access.required_role(&api.settings.api.auth);
            for caller in Caller::ALL {
                let mut request = api.http.request(method.clone(), api.url(&path));
                if let Some(token) = caller.token() {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.expect("request");
                let status = response.status();
                let challenge = response.headers().get(header::WWW_AUTHENTICATE).cloned();
                // A live stream that was let through never ends: its status is the answer.
                let streaming = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
                let body = if streaming {
                    String::new()
                } else {
                    response.text().await.unwrap()
                };
                let what = format!(
                    "public_reads={public_reads} public_status={public_status:?} {caller:?} {method} {path} ({access:?}): \
                     {status} {body}"
                );
                // `/v1/me` is public, but says a token it cannot accept is not valid.
                let expect = match caller.expected(need) {
                    Expect::Through if template == "/v1/me" && caller == Caller::ExpiredJwt => {
                        Expect::Unauthorized
                    }
                    expect => expect,
                };
                match expect {
                    Expect::Unauthorized => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                        assert!(challenge.is_some(), "{what}");
                        assert!(body.contains("\"unauthorized\""), "{what}");
                    }
                    Expect::Forbidden => {
                        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                        assert!(body.contains("\"forbidden\""), "{what}");
                    }
                    Expect::Through => {
                        assert!(
                            status != StatusCode::UNAUTHORIZED
                                && status != StatusCode::FORBIDDEN
                                && !status.is_server_error(),
                            "{what}"
                        );
                    }
                }
                checked += 1;
            }
        }
        assert_eq!(checked, routes::endpoints().len() * Caller::ALL.len());
    }
}

/// `POST /v1/admin/queues/prices/purge` (an admin route) with `token`.
async fn purge_as(api: &Api, token: &str) -> (StatusCode, Value) {
    let response = api
        .http
        .post(api.url("/v1/admin/queues/prices/purge"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    json(response).await
}

fn assert_refused(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_error(body, "unauthorized");
    assert_eq!(
        body["error"]["message"], "invalid or expired token",
        "{what}: nothing about which check failed"
    );
    assert!(body["error"]["details"].is_null(), "{what}: {body}");
}

#[tokio::test]
async fn a_jwt_without_sub_cannot_own_an_alert_and_one_with_sub_can() {
    let api = Api::start().await;
    let alert = json!({
        "coin": "BTC",
        "condition": {"kind": "above", "usd": "70000"},
        "webhook_url": "https://1.1.1.1/coinbeat-test",
    });
    let create = async |token: String| {
        let response = api
            .http
            .post(api.url("/v1/alerts"))
            .bearer_auth(token)
            .json(&alert)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    let (status, body) = create(hs256(JWT_SECRET, &idp(json!({"role": "enqueue"})))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "forbidden");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("`sub`"),
        "{body}"
    );
    let with_sub = idp(json!({"role": "enqueue", "sub": "alerts-bot"}));
    let (status, body) = create(hs256(JWT_SECRET, &with_sub)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn an_hs256_jwt_carries_its_role_and_every_bad_one_is_just_invalid_or_expired() {
    let api = Api::start().await;

    let enqueue = hs256(JWT_SECRET, &idp(json!({"role": "enqueue", "sub": "ci"})));
    let response = api
        .http
        .post(api.url("/v1/tasks"))
        .bearer_auth(&enqueue)
        .json(&json!({"kind": "health"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (status, body) = purge_as(&api, &enqueue).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["details"]["role"], "enqueue");
    let (status, body) = purge_as(&api, &hs256(JWT_SECRET, &idp(json!({})))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let cases = [
        (
            "expired",
            hs256(
                JWT_SECRET,
                &idp(json!({"iat": now() - 4_000, "exp": now() - 3_600})),
            ),
        ),
        ("no exp", hs256(JWT_SECRET, &idp(json!({"exp": null})))),
        (
            "another secret",
            hs256("another-secret-that-is-also-32-bytes-long", &idp(json!({}))),
        ),
        (
            "no role",
            hs256(JWT_SECRET, &idp(json!({"role": null, "sub": "someone"}))),
        ),
        (
            "unknown role",
            hs256(JWT_SECRET, &idp(json!({"role": "root"}))),
        ),
        (
            "not yet valid",
            hs256(JWT_SECRET, &idp(json!({"nbf": now() + 3_000}))),
        ),
        ("RS256 while HS256 is pinned", rs256(&idp(json!({})))),
        ("alg none", NONE_TOKEN.to_owned()),
        ("alg None", NONE_TOKEN_CAPITAL.to_owned()),
        ("signature cut", {
            let t = hs256(JWT_SECRET, &idp(json!({})));
            t[..t.rfind('.').unwrap() + 1].to_owned()
        }),
        ("garbage in three parts", "a.b.c".to_owned()),
    ];
    for (what, token) in cases {
        let (status, body) = purge_as(&api, &token).await;
        assert_refused(status, &body, what);
    }
}

#[tokio::test]
async fn with_rs256_pinned_only_tokens_signed_by_the_private_key_pass() {
    let api = Api::start_with(|s| {
        s.api.auth.jwt = Some(JwtSettings {
            algorithm: JwtAlgorithm::RS256,
            public_key_pem: Some(RS256_PUBLIC.to_owned()),
            issuer: Some(JWT_ISSUER.into()),
            audience: Some(JWT_AUDIENCE.into()),
            ..JwtSettings::default()
        });
    })
    .await;
    let (status, body) = purge_as(&api, &rs256(&idp(json!({})))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The classic confusion: HS256 "signed" with the public key as the HMAC secret.
    let confused = hs256(RS256_PUBLIC, &idp(json!({})));
    let (status, body) = purge_as(&api, &confused).await;
    assert_refused(status, &body, "HS256 with the public key as secret");
    let (status, body) = purge_as(&api, &hs256(JWT_SECRET, &idp(json!({})))).await;
    assert_refused(status, &body, "HS256 while RS256 is pinned");
    let (status, body) = purge_as(&api, NONE_TOKEN).await;
    assert_refused(status, &body, "alg none");
    // API keys keep working beside JWTs.
    let (status, body) = purge_as(&api, ADMIN_KEY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_issuer_the_audience_and_a_lifetime_within_the_cap_are_all_required() {
    let api = Api::start_with(|s| {
        s.api.auth.jwt = Some(JwtSettings {
            secret: Some(Secret::new(JWT_SECRET)),
            issuer: Some("https://idp.example".into()),
            audience: Some("coinbeat".into()),
            max_lifetime_secs: 3_600,
            ..JwtSettings::default()
        });
    })
    .await;
    let good = json!({
        "role": "admin",
        "iss": "https://idp.example",
        "aud": "coinbeat",
        "iat": now() - 60,
        "exp": now() - 60 + 3_600,
    });
    let (status, body) = purge_as(&api, &hs256(JWT_SECRET, &good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (what, changes) in [
        ("wrong iss", json!({"iss": "https://evil.example"})),
        ("no iss", json!({"iss": null})),
        ("wrong aud", json!({"aud": "other"})),
        ("no aud", json!({"aud": null})),
        ("a day long", json!({"iat": now(), "exp": now() + 86_400})),
        ("no iat", json!({"iat": null})),
        (
            "issued next week",
            json!({"iat": now() + 7 * 86_400, "exp": now() + 7 * 86_400 + 600}),
        ),
    ] {
        let (status, body) = purge_as(&api, &hs256(JWT_SECRET, &idp(changes))).await;
        assert_refused(status, &body, what);
    }
}
