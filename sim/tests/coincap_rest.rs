//! CoinCap's REST v3 (`/assets`, `/assets/{id}`) over real HTTP: every number a string in the
//! `{"data","timestamp"}` envelope, unknown ids absent or 404, the key a bearer token or
//! `apiKey`, the limits and an outage as JSON errors counted in `/sim/stats` (shared with the
//! stream), and prices that are CoinGecko's at the same step.

mod common;

use coinbeat_sim::{ControlRequest, SimConfig, SimHandle, Stats};
use common::{frozen_sim, prices, refused_upgrade, sim_get, sim_post, start};
use serde_json::{Value, json};

/// How a request carries its key.
#[derive(Debug, Clone, Copy)]
enum Key<'a> {
    Bearer(&'a str),
    Query(&'a str),
    None,
}

async fn get(
    sim: &SimHandle,
    path: &str,
    query: &[(&str, &str)],
    key: Key<'_>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", sim.coincap_rest_url()))
        .query(query);
    request = match key {
        Key::Bearer(key) => request.bearer_auth(key),
        Key::Query(key) => request.query(&[("apiKey", key)]),
        Key::None => request,
    };
    request.send().await.expect("the sim answers")
}

/// The status and the JSON body, whatever the status.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

async fn assets(sim: &SimHandle, query: &[(&str, &str)]) -> Value {
    let (status, body) = answer(get(sim, "/assets", query, Key::Bearer("k")).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A `{"error":"..."}` body's message.
fn message(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not a CoinCap error: {body}"))
}

fn ids(body: &Value) -> Vec<&str> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect()
}

/// A 16-decimal-place string.
fn assert_decimal16(asset: &Value, key: &str) {
    let text = asset[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string: {asset}"));
    let (_, places) = text
        .split_once('.')
        .unwrap_or_else(|| panic!("{key}: {text}"));
    assert_eq!(places.len(), 16, "{key}: {text}");
    assert!(text.parse::<f64>().is_ok(), "{key}: {text}");
}

#[tokio::test]
async fn assets_are_strings_in_an_envelope_by_rank_and_unknown_ids_are_absent() {
    let sim = frozen_sim(1).await;

    let response = get(
        &sim,
        "/assets",
        &[("ids", "ethereum,bitcoin,nope,binancecoin")],
        Key::Bearer("k"),
    )
    .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();

    assert!(
        text.starts_with(
            r#"{"data":[{"id":"bitcoin","rank":"1","symbol":"BTC","name":"Bitcoin","supply":""#
        ),
        "{text}"
    );
    assert_eq!(
        ids(&body),
        ["bitcoin", "ethereum"],
        "by rank; unknown ids and CoinGecko's `binancecoin` are absent"
    );
    let timestamp = body["timestamp"].as_u64().expect("unix ms, a number");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        now_ms.abs_diff(timestamp) < 60_000,
        "{timestamp} is milliseconds"
    );
    let [btc, eth] = [&body["data"][0], &body["data"][1]];
    let keys: Vec<&str> = btc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 12, "{keys:?}");
    for key in [
        "supply",
        "marketCapUsd",
        "volumeUsd24Hr",
        "priceUsd",
        "changePercent24Hr",
        "vwap24Hr",
    ] {
        assert_decimal16(btc, key);
        assert_decimal16(eth, key);
    }
    assert_eq!(btc["maxSupply"], "21000000.0000000000000000");
    assert_eq!(eth["maxSupply"], Value::Null, "uncapped");
    assert!(eth["rank"].as_str().unwrap().parse::<u64>().unwrap() > 1);
    assert_eq!(btc["explorer"], Value::Null);
    let price: f64 = btc["priceUsd"].as_str().unwrap().parse().unwrap();
    assert!((80_000.0..110_000.0).contains(&price));
    assert_eq!(
        sim.served().coincap["bitcoin"].usd,
        btc["priceUsd"].as_str().unwrap()
    );
}

#[tokio::test]
async fn one_asset_is_an_object_and_an_unknown_one_a_404() {
    let sim = frozen_sim(1).await;

    let (ok, bitcoin) = answer(get(&sim, "/assets/bitcoin", &[], Key::Query("k")).await).await;
    let (bnb, binance_coin) =
        answer(get(&sim, "/assets/binance-coin", &[], Key::Bearer("k")).await).await;
    let (gecko_id, wrong) =
        answer(get(&sim, "/assets/binancecoin", &[], Key::Bearer("k")).await).await;
    let (unknown, nope) = answer(get(&sim, "/assets/nope", &[], Key::Bearer("k")).await).await;

    assert_eq!(ok, 200);
    assert_eq!(bitcoin["data"]["id"], "bitcoin");
    assert_eq!(bitcoin["data"]["rank"], "1");
    assert!(bitcoin["timestamp"].is_u64());
    assert_eq!(bnb, 200);
    assert_eq!(binance_coin["data"]["symbol"], "BNB");
    assert_eq!(
        sim.served().coincap["binancecoin"].usd,
        binance_coin["data"]["priceUsd"].as_str().unwrap()
    );
    assert_eq!([gecko_id, unknown], [404, 404]);
    assert_eq!(message(&wrong), "binancecoin not found");
    assert_eq!(nope, json!({ "error": "nope not found" }));
}

#[tokio::test]
async fn assets_page_by_limit_and_offset_and_filter_by_search() {
    let sim = frozen_sim(1).await;

    let all = assets(&sim, &[]).await;
    let page = assets(&sim, &[("limit", "5"), ("offset", "5")]).await;
    let beyond = assets(&sim, &[("offset", "100")]).await;
    let search = assets(&sim, &[("search", "BIT")]).await;

    let ranks = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["rank"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ranks(&all).len(),
        15,
        "every listed coin under the default 100"
    );
    assert_eq!(ranks(&page), ["6", "7", "8", "9", "10"]);
    assert!(ranks(&beyond).is_empty());
    assert!(ids(&search).contains(&"bitcoin"), "{search}");
    assert!(!ids(&search).contains(&"ethereum"));
}

#[tokio::test]
async fn prices_are_coingeckos_at_the_same_step() {
    let sim = frozen_sim(7).await;
    sim.control(&ControlRequest {
        advance_steps: Some(25),
        ..Default::default()
    })
    .unwrap();

    let coincap = assets(&sim, &[("ids", "bitcoin,ethereum,binance-coin,shiba-inu")]).await;
    let coingecko = prices(
        &sim,
        &[
            ("ids", "bitcoin,ethereum,binancecoin,shiba-inu"),
            ("vs_currencies", "usd"),
            ("precision", "full"),
        ],
    )
    .await;

    let price = |id: &str| -> f64 {
        let asset = coincap["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("{id} served"));
        asset["priceUsd"].as_str().unwrap().parse().unwrap()
    };
    // From 1 USD up, 16 places hold every digit of the price, so CoinCap's text parses back to
    // the very number CoinGecko rounds to 15 significant digits: the texts must agree exactly.
    for (coincap_id, gecko_id) in [
        ("bitcoin", "bitcoin"),
        ("ethereum", "ethereum"),
        ("binance-coin", "binancecoin"),
    ] {
        assert_eq!(
            fifteen_digits(price(coincap_id)),
            coingecko[gecko_id]["usd"].get(),
            "{coincap_id}"
        );
    }
    // Below a cent, 16 places keep fewer digits than CoinGecko's 15 significant ones: the two
    // agree to CoinCap's last place.
    let shib_gecko: f64 = coingecko["shiba-inu"]["usd"].get().parse().unwrap();
    assert!(shib_gecko < 0.01);
    assert!(
        (price("shiba-inu") - shib_gecko).abs() <= 1e-16,
        "{} vs {shib_gecko}",
        price("shiba-inu")
    );
}

/// `x` with 15 significant digits in plain notation, trailing zeros dropped, as CoinGecko writes
/// `precision=full`.
fn fifteen_digits(x: f64) -> String {
    let magnitude = x.abs().log10().floor() as i64;
    let places = (14 - magnitude).max(0) as usize;
    let text = format!("{x:.places$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[tokio::test]
async fn a_key_is_required_as_a_bearer_token_or_a_query_parameter() {
    let open = frozen_sim(1).await;
    let keyed = start(SimConfig {
        step_ms: 0,
        api_keys: vec!["k1".to_owned()],
        ..SimConfig::default()
    })
    .await;

    let (missing, missing_body) = answer(get(&open, "/assets", &[], Key::None).await).await;
    let (blank, _) = answer(get(&open, "/assets", &[], Key::Query("")).await).await;
    let (any_bearer, _) = answer(get(&open, "/assets", &[], Key::Bearer("x")).await).await;
    let (any_query, _) = answer(get(&open, "/assets/bitcoin", &[], Key::Query("y")).await).await;
    let (right_bearer, _) = answer(get(&keyed, "/assets", &[], Key::Bearer("k1")).await).await;
    let (right_query, _) = answer(get(&keyed, "/assets", &[], Key::Query("k1")).await).await;
    let (wrong, wrong_body) = answer(get(&keyed, "/assets", &[], Key::Bearer("nope")).await).await;
    let (wrong_404, _) = answer(get(&keyed, "/assets/nope", &[], Key::Query("nope")).await).await;

    assert_eq!(
        [missing, blank, any_bearer, any_query],
        [401, 401, 200, 200]
    );
    assert!(!message(&missing_body).is_empty());
    assert_eq!(
        [right_bearer, right_query, wrong, wrong_404],
        [200, 200, 401, 401]
    );
    assert!(!message(&wrong_body).is_empty());
    let stats = open.stats();
    assert_eq!(stats.by_provider["coincap"].auth_failures, 2);
    let by_auth: Vec<(&str, u64)> = stats
        .by_auth
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(by_auth, [("apikey_query", 2), ("bearer", 1), ("none", 1)]);
    assert_eq!(stats.by_endpoint["/coincap/v3/assets"], 3);
    assert_eq!(stats.by_endpoint["/coincap/v3/assets/{id}"], 1);
    assert_eq!(keyed.stats().auth_failures, 2);
}

#[tokio::test]
async fn past_its_limits_coincap_answers_429_counted_as_rate_limited() {
    let sim = frozen_sim(1).await;
    let set = sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coincap", "rate_limit_per_minute": 2 }),
    )
    .await;
    assert_eq!(set.status(), 200);

    let first = get(&sim, "/assets", &[], Key::Bearer("k")).await.status();
    let second = get(&sim, "/assets/bitcoin", &[], Key::Bearer("k"))
        .await
        .status();
    let limited = get(&sim, "/assets", &[], Key::Bearer("k")).await;
    let retry_after = limited.headers().get("retry-after").cloned();
    let (third, body) = answer(limited).await;
    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coincap", "rate_limit_per_minute": 0, "calls_per_sec": 1 }),
    )
    .await;
    sim.reset();
    let per_second = [
        get(&sim, "/assets", &[], Key::Bearer("k")).await.status(),
        get(&sim, "/assets", &[], Key::Bearer("k")).await.status(),
    ];
    let stats: Stats = sim_get(&sim, "/sim/stats").await;

    assert_eq!([first, second], [200, 200]);
    assert_eq!(third, 429);
    assert!(!message(&body).is_empty());
    assert!(retry_after.is_some());
    assert_eq!(per_second, [200, 429]);
    assert_eq!(stats.rate_limited, 1, "counted since the reset");
    assert_eq!(stats.by_provider["coincap"].rate_limited, 1);
}

#[tokio::test]
async fn a_down_coincap_refuses_rest_with_503_json_and_stream_upgrades_with_503() {
    let sim = frozen_sim(1).await;
    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coincap", "down": true }),
    )
    .await;

    let (rest, body) = answer(get(&sim, "/assets", &[], Key::Bearer("k")).await).await;
    let stream = refused_upgrade(&format!(
        "{}/prices?assets=bitcoin",
        sim.coincap_stream_url()
    ))
    .await;
    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coincap", "down": false, "error_rate": 1.0 }),
    )
    .await;
    let (failing, failing_body) = answer(get(&sim, "/assets", &[], Key::Bearer("k")).await).await;

    assert_eq!([rest, stream, failing], [503, 503, 503]);
    assert!(!message(&body).is_empty());
    assert!(!message(&failing_body).is_empty());
    let stats = sim.stats();
    assert_eq!(stats.by_provider["coincap"].down_rejections, 2);
    assert_eq!(stats.by_provider["coincap"].injected_errors, 1);
    assert_eq!(stats.by_provider["coincap"].requests, 3);
}
