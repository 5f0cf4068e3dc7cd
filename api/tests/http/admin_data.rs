//! The admin data endpoints against a real Redis: a forced price refresh, cache stats (keys,
//! memory, oldest record per kind, read hits and misses), the tracked set as a Redis override
//! of the settings, and the watched wallets added beside the settings' ones.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, Api, assert_error, json, record};

async fn admin(api: &Api, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = api
        .http
        .request(method, api.url(path))
        .bearer_auth(ADMIN_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    json(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_price_refresh_enqueues_a_prices_job_for_the_tracked_set_or_the_symbols_given() {
    let api = Api::start().await;
    api.write(&[record("BTC", "97000", Utc::now())]).await;
    let (status, body) = admin(&api, Method::POST, "/v1/admin/prices/refresh", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["queue"], "prices");
    let (_, task) = api
        .get_as(
            &format!("/v1/tasks/{}", body["id"].as_str().unwrap()),
            Some(ADMIN_KEY),
        )
        .await;
    assert_eq!(task["payload"], json!({}), "the tracked set");

    let some = json!({"symbols": ["btc"]});
    let (status, body) = admin(
        &api,
        Method::POST,
        "/v1/admin/prices/refresh",
        Some(some.clone()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "BTC is fresh, and refreshed anyway: {body}"
    );
    let (_, task) = api
        .get_as(
            &format!("/v1/tasks/{}", body["id"].as_str().unwrap()),
            Some(ADMIN_KEY),
        )
        .await;
    assert_eq!(task["payload"], json!({"symbols": ["BTC"]}));
    let (status, again) = admin(&api, Method::POST, "/v1/admin/prices/refresh", Some(some)).await;
    assert_eq!(
        (status, &again["id"]),
        (StatusCode::OK, &body["id"]),
        "{again}"
    );
    assert_eq!(again["deduplicated"], true);

    let (status, body) = admin(
        &api,
        Method::POST,
        "/v1/admin/prices/refresh",
        Some(json!({"symbols": ["NOPE"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unknown_coin");

    let (status, body) = admin(
        &api,
        Method::POST,
        "/v1/admin/prices/refresh",
        Some(json!([])),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_body");
}

#[tokio::test]
async fn cache_stats_count_keys_memory_and_the_oldest_record_per_kind_and_the_apis_reads() {
    let api = Api::start().await;
    let old = Utc::now() - chrono::Duration::seconds(120);
    api.write(&[
        record("BTC", "97000", Utc::now()),
        record("ETH", "3500", old),
    ])
    .await;
    crate::wallets::write_analysis(&api, Utc::now()).await;
    let (status, _) = json(api.post("/v1/tasks", &json!({"kind": "health"})).await).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(api.get("/v1/prices/BTC").await.0, StatusCode::OK);
    assert_eq!(api.get("/v1/prices/LTC").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/v1/health").await.0, StatusCode::NOT_FOUND);

    let (status, stats) = admin(&api, Method::GET, "/v1/admin/cache/stats", None).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let kinds = &stats["kinds"];
    assert_eq!(kinds["prices"]["keys"], 2, "{stats}");
    assert_eq!(kinds["histories"]["keys"], 2, "{stats}");
    assert_eq!(kinds["wallets"]["keys"], 1, "{stats}");
    assert_eq!(kinds["markets"]["keys"], 0, "{stats}");
    assert!(
        kinds["queues"]["keys"].as_u64().unwrap() >= 3,
        "data, meta, active: {stats}"
    );
    for kind in ["prices", "histories", "wallets", "queues"] {
        assert!(
            kinds[kind]["memory_bytes"].as_u64().unwrap() > 0,
            "{kind}: {stats}"
        );
    }
    let oldest: chrono::DateTime<Utc> = kinds["prices"]["oldest_fetched_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(oldest.timestamp_millis(), old.timestamp_millis(), "{stats}");
    assert!(kinds["markets"]["oldest_fetched_at"].is_null());
    assert_eq!(
        stats["reads"]["prices"],
        json!({"hits": 1, "misses": 1}),
        "{stats}"
    );
    assert_eq!(
        stats["reads"]["health"],
        json!({"hits": 0, "misses": 1}),
        "{stats}"
    );
}

#[tokio::test]
async fn the_tracked_set_is_overridden_in_redis_and_an_unmappable_symbol_is_refused() {
    let api = Api::start_with(|s| {
        s.prices.coins.insert("PEPE".into(), "pepe".into());
    })
    .await;
    let (status, body) = admin(&api, Method::GET, "/v1/admin/symbols", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["source"], "settings");
    assert_eq!(body["tracked"].as_array().unwrap().len(), 12);

    let (status, body) = admin(
        &api,
        Method::POST,
        "/v1/admin/symbols",
        Some(json!({"symbol": "wif"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unmappable_symbol");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[prices.coins]"),
        "{body}"
    );
    let (_, body) = admin(&api, Method::GET, "/v1/admin/symbols", None).await;
    assert_eq!(body["source"], "settings", "a refused add stores nothing");

    let (status, body) = admin(
        &api,
        Method::POST,
        "/v1/admin/symbols",
        Some(json!({"symbol": "pepe"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["source"], "redis");
    assert_eq!(body["tracked"].as_array().unwrap().last().unwrap(), "PEPE");
    let (status, body) = admin(
        &api,
        Method::POST,
        "/v1/admin/symbols",
        Some(json!({"symbol": "PEPE"})),
    )
    .await;
    assert_eq!(
        (status, &body["changed"]),
        (StatusCode::OK, &json!(false)),
        "{body}"
    );

    let (status, body) = admin(&api, Method::DELETE, "/v1/admin/symbols/btc", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !body["tracked"].as_array().unwrap().contains(&json!("BTC")),
        "{body}"
    );
    let (status, body) = admin(&api, Method::DELETE, "/v1/admin/symbols/BTC", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "symbol_not_tracked");

    // Several at once: all or none.
    let (status, body) = admin(
        &api,
        Method::DELETE,
        "/v1/admin/symbols?symbols=eth,BTC,sol",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "symbol_not_tracked");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("BTC"),
        "names the one not tracked: {body}"
    );
    let (_, body) = admin(&api, Method::GET, "/v1/admin/symbols", None).await;
    assert!(
        body["tracked"].as_array().unwrap().contains(&json!("ETH")),
        "a refused batch removes nothing: {body}"
    );
    for (bad, want) in [
        ("", StatusCode::BAD_REQUEST),
        ("?symbols=", StatusCode::UNPROCESSABLE_ENTITY),
        ("?symbols=B%24C", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let path = format!("/v1/admin/symbols{bad}");
        let (status, body) = admin(&api, Method::DELETE, &path, None).await;
        assert_eq!(status, want, "{path}: {body}");
    }
    let (status, body) = admin(
        &api,
        Method::DELETE,
        "/v1/admin/symbols?symbols=eth, SOL,ETH",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tracked = body["tracked"].as_array().unwrap();
    assert!(
        !tracked.contains(&json!("ETH")) && !tracked.contains(&json!("SOL")),
        "{body}"
    );
    assert_eq!(tracked.len(), 10, "{body}");
    // Put back, so the read below sees 12 symbols with PEPE and without BTC.
    let (status, body) = admin(
        &api,
        Method::POST,
        "/v1/admin/symbols",
        Some(json!({"symbols": ["ETH", "SOL"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The read route follows the override (after its one-second reuse).
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (_, prices) = api.get("/v1/prices").await;
    let listed: Vec<&str> = prices["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["symbol"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&"PEPE") && !listed.contains(&"BTC"),
        "{prices}"
    );
    assert_eq!(listed.len(), 12, "{prices}");
}

#[tokio::test]
async fn watched_wallets_are_added_checked_and_removed_beside_the_settings_ones() {
    const SETTINGS: &str = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
    const MIXED: &str = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
    let api = Api::start_with(|s| {
        s.wallets.watched = vec![coinbeat_shared::domain::Address::parse(SETTINGS).unwrap()];
    })
    .await;
    let (status, body) = admin(
        &api,
        Method::POST,
        "/v1/admin/wallets",
        Some(json!({"address": "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d35A"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_address");

    let (status, body) = admin(
        &api,
        Method::POST,
        "/v1/admin/wallets",
        Some(json!({"address": MIXED})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["added"], json!([MIXED.to_lowercase()]));
    assert_eq!(body["settings"], json!([SETTINGS]));
    // The beat runs it like the settings' watched wallets, and the schedule table says so.
    let added_entry = format!("wallet-ethereum-{}", MIXED.to_lowercase());
    let entries = |body: &serde_json::Value| -> Vec<(String, String)> {
        body["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_owned(),
                    e["cron"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let (_, schedules) = api.get_as("/v1/schedules", Some(ADMIN_KEY)).await;
    let listed = entries(&schedules);
    let watch_cron = api.settings.wallets.watch_cron.clone();
    assert!(
        listed.contains(&(added_entry.clone(), watch_cron)),
        "{schedules}"
    );
    let (status, _) = admin(
        &api,
        Method::POST,
        "/v1/admin/wallets",
        Some(json!({"address": MIXED.to_lowercase()})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = admin(
        &api,
        Method::DELETE,
        &format!("/v1/admin/wallets/{SETTINGS}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "watched_in_settings");
    let (status, body) = admin(
        &api,
        Method::DELETE,
        &format!("/v1/admin/wallets/{MIXED}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["added"], json!([]));
    let (_, schedules) = api.get_as("/v1/schedules", Some(ADMIN_KEY)).await;
    let names: Vec<String> = entries(&schedules).into_iter().map(|(n, _)| n).collect();
    assert!(!names.contains(&added_entry), "{schedules}");
    let (status, body) = admin(
        &api,
        Method::DELETE,
        &format!("/v1/admin/wallets/{MIXED}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "wallet_not_watched");
}
