//! Price alerts over HTTP: each belongs to the key that made it, is bounded per key, and is
//! refused at the edge when its condition, coin or webhook is not one that could ever be
//! delivered safely (an internal address, unless the deployment allows private targets).

use coinbeat_api::auth::api_key::sha256_hex;
use coinbeat_shared::settings::{ApiKeyEntry, Role};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, Api, ENQUEUE_KEY, READ_KEY, assert_error, json};

/// A public address, written as an address so creating the alert needs no DNS.
const PUBLIC_HOOK: &str = "https://1.1.1.1/coinbeat-test";

fn alert(coin: &str, webhook_url: &str) -> Value {
    json!({
        "coin": coin,
        "condition": {"kind": "above", "usd": "70000"},
        "webhook_url": webhook_url,
    })
}

/// `method path` with `token` (none: no `Authorization`) and `body`; status and JSON body
/// (`null` for an empty one).
async fn call(
    api: &Api,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = api.http.request(method, api.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text:?}"))
    };
    (status, body)
}

async fn create_as(api: &Api, token: &str, body: &Value) -> (StatusCode, Value) {
    call(api, Method::POST, "/v1/alerts", Some(token), Some(body)).await
}

#[tokio::test]
async fn the_owner_creates_lists_reads_and_deletes_an_alert_and_sees_the_secret_once() {
    let api = Api::start().await;
    let response = api.post("/v1/alerts", &alert("btc", PUBLIC_HOOK)).await;
    let location = response.headers().get(header::LOCATION).cloned();
    let (status, created) = json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 26, "{created}");
    assert_eq!(
        location.unwrap().to_str().unwrap(),
        format!("/v1/alerts/{id}")
    );
    // A symbol is stored as the coin it names.
    assert_eq!(created["coin"], "bitcoin");
    assert_eq!(
        created["condition"],
        json!({"kind": "above", "usd": "70000"})
    );
    assert_eq!(created["webhook_url"], PUBLIC_HOOK);
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 64,
        "{secret}"
    );

    let (status, list) = call(&api, Method::GET, "/v1/alerts", Some(ENQUEUE_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let alerts = list["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{list}");
    let mut shown = created.clone();
    shown.as_object_mut().unwrap().remove("secret");
    assert_eq!(alerts[0], shown, "the same alert, without its secret");

    let path = format!("/v1/alerts/{id}");
    let (status, one) = call(&api, Method::GET, &path, Some(ENQUEUE_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one, shown);
    assert!(!one.to_string().contains(secret));

    let (status, body) = call(&api, Method::DELETE, &path, Some(ENQUEUE_KEY), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null, "204 has no body");
    let (status, body) = call(&api, Method::GET, &path, Some(ENQUEUE_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "alert_not_found");
    let (status, body) = call(&api, Method::DELETE, &path, Some(ENQUEUE_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted once: {body}");
    let (_, list) = call(&api, Method::GET, "/v1/alerts", Some(ENQUEUE_KEY), None).await;
    assert_eq!(list, json!({"alerts": []}));
}

#[tokio::test]
async fn another_key_can_neither_see_nor_delete_an_alert_it_did_not_make() {
    let api = Api::start().await;
    let (status, created) = create_as(&api, ENQUEUE_KEY, &alert("ETH", PUBLIC_HOOK)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/v1/alerts/{}", created["id"].as_str().unwrap());

    // Even an admin key: an alert is its owner's, and to anyone else it does not exist.
    let (status, list) = call(&api, Method::GET, "/v1/alerts", Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!({"alerts": []}));
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = call(&api, method.clone(), &path, Some(ADMIN_KEY), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}: {body}");
        assert_error(&body, "alert_not_found");
    }
    let (status, _) = call(&api, Method::GET, &path, Some(ENQUEUE_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "still there for its owner");
}

#[tokio::test]
async fn a_key_at_its_bound_gets_409_until_it_deletes_one() {
    let api = Api::start_with(|s| s.alerts.max_per_key = 2).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, created) = create_as(&api, ENQUEUE_KEY, &alert("BTC", PUBLIC_HOOK)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let (status, body) = create_as(&api, ENQUEUE_KEY, &alert("BTC", PUBLIC_HOOK)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "too_many_alerts");
    assert_eq!(body["error"]["details"]["limit"], 2);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("alerts.max_per_key")
    );
    // The bound is per key: another key still has room.
    let (status, body) = create_as(&api, ADMIN_KEY, &alert("BTC", PUBLIC_HOOK)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let path = format!("/v1/alerts/{}", ids[0]);
    let (status, _) = call(&api, Method::DELETE, &path, Some(ENQUEUE_KEY), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = create_as(&api, ENQUEUE_KEY, &alert("BTC", PUBLIC_HOOK)).await;
    assert_eq!(status, StatusCode::CREATED, "room again: {body}");
}

const LOOPBACK_HOOKS: [&str; 3] = [
    "http://127.0.0.1:9/hook",
    "http://localhost/",
    "http://[::1]/",
];

#[tokio::test]
async fn a_loopback_webhook_is_refused_by_default_naming_the_range() {
    let api = Api::start().await;
    for hook in LOOPBACK_HOOKS {
        let (status, body) = create_as(&api, ENQUEUE_KEY, &alert("BTC", hook)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{hook}: {body}");
        assert_error(&body, "webhook_target_refused");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("loopback"), "{hook}: {message}");
        assert!(
            message.contains("alerts.allow_private_targets"),
            "{message}"
        );
        assert!(
            body["error"]["details"]["range"]
                .as_str()
                .unwrap()
                .starts_with("loopback"),
            "{body}"
        );
    }
    // Other internal ranges too: the cloud metadata address, a private network.
    for hook in ["http://169.254.169.254/latest", "https://10.0.0.8/hook"] {
        let (status, body) = create_as(&api, ENQUEUE_KEY, &alert("BTC", hook)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{hook}: {body}");
        assert_error(&body, "webhook_target_refused");
    }
    let (_, list) = call(&api, Method::GET, "/v1/alerts", Some(ENQUEUE_KEY), None).await;
    assert_eq!(list, json!({"alerts": []}), "nothing was stored");
}

#[tokio::test]
async fn a_loopback_webhook_is_accepted_when_private_targets_are_allowed() {
    let api = Api::start_with(|s| s.alerts.allow_private_targets = true).await;
    for hook in LOOPBACK_HOOKS {
        let (status, body) = create_as(&api, ENQUEUE_KEY, &alert("BTC", hook)).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}: {body}");
    }
}

#[tokio::test]
async fn bad_conditions_and_webhook_urls_are_422_saying_what_is_wrong() {
    let api = Api::start().await;
    let with_condition = |condition: Value| json!({"coin": "BTC", "condition": condition, "webhook_url": PUBLIC_HOOK});
    let conditions = [
        (json!({"kind": "above", "usd": "0"}), "usd"),
        (json!({"kind": "below", "usd": "-5"}), "usd"),
        (json!({"kind": "below", "usd": "1000000000000001"}), "usd"),
        (json!({"kind": "above", "usd": 70000}), "string"),
        (json!({"kind": "above", "usd": "1e5"}), "decimal string"),
        (json!({"kind": "sideways", "usd": "5"}), "sideways"),
        (json!({"kind": "above"}), "usd"),
        (
            json!({"kind": "move", "percent": "5", "window_secs": 10}),
            "window_secs",
        ),
        (
            json!({"kind": "move", "percent": "1500", "window_secs": 3600}),
            "percent",
        ),
        (
            json!({"kind": "move", "percent": "5", "window_secs": 3600, "direction": "sideways"}),
            "sideways",
        ),
        (json!({"kind": "above", "usd": "5", "extra": 1}), "extra"),
    ];
    for (condition, says) in conditions {
        let (status, body) = create_as(&api, ENQUEUE_KEY, &with_condition(condition.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{condition}: {body}"
        );
        assert_error(&body, "invalid_condition");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{condition}: {message}");
    }

    let urls = [
        ("ftp://example.com/hook", "http"),
        (
            "https://user:pass@example.com/hook",
            "user name or password",
        ),
        ("not a url", "space"),
        ("example.com/hook", "http"),
        ("https://example.com/a b", "space"),
        ("https://", "not a valid URL"),
    ];
    for (url, says) in urls {
        let (status, body) = create_as(&api, ENQUEUE_KEY, &alert("BTC", url)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_error(&body, "invalid_webhook_url");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{url}: {message}");
    }

    // A body that does not fit at all.
    let (status, body) = create_as(&api, ENQUEUE_KEY, &json!({"coin": "BTC"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_body");
    let (_, list) = call(&api, Method::GET, "/v1/alerts", Some(ENQUEUE_KEY), None).await;
    assert_eq!(list, json!({"alerts": []}), "nothing was stored");
}

#[tokio::test]
async fn a_cooldown_is_kept_with_the_alert_and_one_out_of_range_is_422_storing_nothing() {
    let api = Api::start().await;
    let with_cooldown = |cooldown: Value| {
        let mut body = alert("BTC", PUBLIC_HOOK);
        body["cooldown_secs"] = cooldown;
        body
    };
    for bad in [
        json!(-1),
        json!(604_801),
        json!(1.5),
        json!("300"),
        json!([]),
    ] {
        let (status, body) = create_as(&api, ENQUEUE_KEY, &with_cooldown(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_error(&body, "invalid_cooldown");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cooldown_secs"),
            "{bad}: {body}"
        );
    }
    let (_, list) = call(&api, Method::GET, "/v1/alerts", Some(ENQUEUE_KEY), None).await;
    assert_eq!(list, json!({"alerts": []}), "nothing was stored");

    let (status, created) = create_as(&api, ENQUEUE_KEY, &with_cooldown(json!(300))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["cooldown_secs"], 300);
    let path = format!("/v1/alerts/{}", created["id"].as_str().unwrap());
    let (_, shown) = call(&api, Method::GET, &path, Some(ENQUEUE_KEY), None).await;
    assert_eq!(shown["cooldown_secs"], 300);
    // None given (or null) is none: every crossing fires.
    let (_, plain) = create_as(&api, ENQUEUE_KEY, &alert("BTC", PUBLIC_HOOK)).await;
    assert_eq!(plain["cooldown_secs"], 0, "{plain}");
    let (_, null) = create_as(&api, ENQUEUE_KEY, &with_cooldown(Value::Null)).await;
    assert_eq!(null["cooldown_secs"], 0, "{null}");
    // A week is the most.
    let (status, week) = create_as(&api, ENQUEUE_KEY, &with_cooldown(json!(604_800))).await;
    assert_eq!(status, StatusCode::CREATED, "{week}");
}

#[tokio::test]
async fn an_admin_sees_every_alert_with_its_owner_and_deletes_the_orphans_of_a_removed_key() {
    const LEAVING_KEY: &str =
        "cbk_4444444444444444444444444444444444444444444444444444444444444444";
    let mut api = Api::start_with(|settings| {
        settings.api.keys.push(ApiKeyEntry {
            role: Role::Enqueue,
            sha256: sha256_hex(LEAVING_KEY),
        });
    })
    .await;
    let (status, stays) = create_as(&api, ENQUEUE_KEY, &alert("BTC", PUBLIC_HOOK)).await;
    assert_eq!(status, StatusCode::CREATED, "{stays}");
    let (status, leaves) = create_as(&api, LEAVING_KEY, &alert("ETH", PUBLIC_HOOK)).await;
    assert_eq!(status, StatusCode::CREATED, "{leaves}");

    // The key is taken out of the settings and the API redeployed: its alert stays, and fires.
    api.settings
        .api
        .keys
        .retain(|k| k.sha256 != sha256_hex(LEAVING_KEY));
    api.restart_server().await;
    let admin = |path: &str| {
        let path = path.to_owned();
        let api = &api;
        async move { call(api, Method::GET, &path, Some(ADMIN_KEY), None).await }
    };
    let (status, all) = admin("/v1/admin/alerts").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let listed = all["alerts"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{all}");
    let enqueue_owner = format!("key:{}", &sha256_hex(ENQUEUE_KEY)[..12]);
    let leaving_owner = format!("key:{}", &sha256_hex(LEAVING_KEY)[..12]);
    assert_eq!(listed[0]["id"], stays["id"], "oldest first");
    assert_eq!(listed[0]["owner"], enqueue_owner.as_str());
    assert_eq!(listed[0]["owner_configured"], true);
    assert_eq!(listed[1]["owner"], leaving_owner.as_str());
    assert_eq!(listed[1]["owner_configured"], false);
    assert_eq!(listed[1]["coin"], "ethereum");
    assert!(listed[1].get("secret").is_none(), "{all}");

    let (_, orphans) = admin("/v1/admin/alerts?orphaned=true").await;
    let ids = |list: &Value| -> Vec<Value> {
        list["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].clone())
            .collect()
    };
    assert_eq!(ids(&orphans), [leaves["id"].clone()]);
    let (_, kept) = admin("/v1/admin/alerts?orphaned=false").await;
    assert_eq!(ids(&kept), [stays["id"].clone()]);
    let (_, mine) = admin(&format!("/v1/admin/alerts?owner={enqueue_owner}")).await;
    assert_eq!(ids(&mine), [stays["id"].clone()]);
    let (status, body) = admin("/v1/admin/alerts?orphaned=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Only an admin sees them all.
    let (status, body) = call(
        &api,
        Method::GET,
        "/v1/admin/alerts",
        Some(ENQUEUE_KEY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let path = format!("/v1/admin/alerts/{}", leaves["id"].as_str().unwrap());
    let (status, body) = call(&api, Method::DELETE, &path, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = call(&api, Method::DELETE, &path, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted once: {body}");
    assert_error(&body, "alert_not_found");
    let (_, all) = admin("/v1/admin/alerts").await;
    assert_eq!(ids(&all), [stays["id"].clone()]);
    // The owner's own list is untouched.
    let (_, list) = call(&api, Method::GET, "/v1/alerts", Some(ENQUEUE_KEY), None).await;
    assert_eq!(ids(&list), [stays["id"].clone()]);
}

#[tokio::test]
async fn an_unknown_coin_or_a_host_that_does_not_resolve_is_404() {
    let api = Api::start().await;
    for coin in ["NOPECOIN", "no-such-coin"] {
        let (status, body) = create_as(&api, ENQUEUE_KEY, &alert(coin, PUBLIC_HOOK)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{coin}: {body}");
        assert_error(&body, "unknown_coin");
    }
    // Text that is neither a symbol nor an id: as `GET /v1/prices/{coin}` answers it.
    let (status, body) = create_as(&api, ENQUEUE_KEY, &alert("b t c!", PUBLIC_HOOK)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_symbol");
    // `.invalid` never resolves (RFC 6761).
    let hook = "https://hooks.coinbeat.invalid/hook";
    let (status, body) = create_as(&api, ENQUEUE_KEY, &alert("BTC", hook)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "webhook_host_not_found");
    assert_eq!(body["error"]["details"]["host"], "hooks.coinbeat.invalid");
}

#[tokio::test]
async fn a_malformed_alert_id_is_422_as_a_malformed_task_id_is() {
    let api = Api::start().await;
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = call(
            &api,
            method.clone(),
            "/v1/alerts/not-an-id",
            Some(ENQUEUE_KEY),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method}: {body}");
        assert_error(&body, "invalid_alert_id");
    }
}

#[tokio::test]
async fn alerts_need_an_enqueue_key_without_a_token_401_with_a_read_key_403() {
    let api = Api::start().await;
    let id = "01J0000000000000000000000Z";
    let body = alert("BTC", PUBLIC_HOOK);
    let routes = [
        (Method::POST, "/v1/alerts".to_owned(), Some(&body)),
        (Method::GET, "/v1/alerts".to_owned(), None),
        (Method::GET, format!("/v1/alerts/{id}"), None),
        (Method::DELETE, format!("/v1/alerts/{id}"), None),
    ];
    for (method, path, body) in routes {
        let (status, answer) = call(&api, method.clone(), &path, None, body).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer}"
        );
        assert_error(&answer, "unauthorized");
        let (status, answer) = call(&api, method.clone(), &path, Some(READ_KEY), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_error(&answer, "forbidden");
    }
}

#[tokio::test]
async fn while_redis_is_down_alerts_answer_503() {
    let mut api = Api::start().await;
    api.redis.kill();
    let (status, body) = create_as(&api, ENQUEUE_KEY, &alert("BTC", PUBLIC_HOOK)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "redis_unavailable");
    let (status, body) = call(&api, Method::GET, "/v1/alerts", Some(ENQUEUE_KEY), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "redis_unavailable");
}
