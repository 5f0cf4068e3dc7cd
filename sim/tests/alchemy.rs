//! Alchemy's Prices API `/tokens/by-symbol` over real HTTP: the envelope with string values in
//! the order asked, unknown symbols inside a 200, the 25-symbol limit, keys, the limits and an
//! outage as JSON errors counted in `/sim/stats`, and prices that are CoinGecko's at the same
//! step, to the digit.

mod common;

use coinbeat_sim::{ControlRequest, SetRank, SimConfig, SimHandle, Stats};
use common::{fetch, frozen_sim, prices, sim_get, sim_post, start};
use serde_json::{Value, json};

async fn by_symbol(sim: &SimHandle, key: &str, symbols: &[&str]) -> reqwest::Response {
    let query: Vec<(&str, &str)> = symbols.iter().map(|s| ("symbols", *s)).collect();
    fetch(
        &format!("{}/{key}/tokens/by-symbol", sim.alchemy_url()),
        &query,
    )
    .await
}

/// The status and the JSON body, whatever the status.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// The `value` of each item, `None` for a token without prices.
fn values(body: &Value) -> Vec<Option<String>> {
    body["data"]
        .as_array()
        .expect("a data array")
        .iter()
        .map(|t| t["prices"][0]["value"].as_str().map(str::to_owned))
        .collect()
}

/// CoinGecko's `precision=full` USD text of each id.
async fn coingecko_full(sim: &SimHandle, ids: &str) -> Vec<String> {
    let body = prices(
        sim,
        &[
            ("ids", ids),
            ("vs_currencies", "usd"),
            ("precision", "full"),
        ],
    )
    .await;
    ids.split(',')
        .map(|id| body[id]["usd"].get().to_owned())
        .collect()
}

/// A `{"error":{"message":"..."}}` body's message.
fn message(body: &Value) -> &str {
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("not an Alchemy error: {body}"))
}

#[tokio::test]
async fn prices_come_in_the_order_asked_as_strings_and_unknown_symbols_carry_an_error() {
    let sim = frozen_sim(1).await;

    let response = by_symbol(&sim, "docs-demo", &["ETH", "btc", "NOPE", "SOL"]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "a JSON body"
    );
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();

    assert!(
        text.starts_with(r#"{"data":[{"symbol":"ETH","prices":[{"currency":"usd","value":""#),
        "{text}"
    );
    let data = body["data"].as_array().unwrap();
    let symbols: Vec<&str> = data.iter().map(|t| t["symbol"].as_str().unwrap()).collect();
    assert_eq!(symbols, ["ETH", "btc", "NOPE", "SOL"], "echoed, in order");
    for token in [&data[0], &data[1], &data[3]] {
        assert_eq!(token["error"], Value::Null);
        assert!(token.as_object().unwrap().contains_key("error"));
        let prices = token["prices"].as_array().unwrap();
        assert_eq!(prices.len(), 1);
        let price = prices[0].as_object().unwrap();
        let keys: Vec<&str> = price.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 3);
        assert_eq!(price["currency"], "usd");
        let value = price["value"].as_str().expect("value is a string");
        assert!(value.parse::<f64>().unwrap() > 0.0, "{value}");
        assert!(!value.contains('e'), "plain notation: {value}");
        let updated = price["lastUpdatedAt"].as_str().unwrap();
        assert_eq!(updated.len(), "2026-06-23T00:00:00Z".len(), "{updated}");
        assert!(updated.ends_with('Z') && updated.as_bytes()[10] == b'T');
    }
    let btc: f64 = data[1]["prices"][0]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((80_000.0..110_000.0).contains(&btc), "{btc}");
    let unknown = &data[2];
    assert_eq!(unknown["prices"], json!([]));
    assert!(!message(unknown).is_empty());
    let served = sim.served().alchemy;
    assert_eq!(
        served["BTC"].usd,
        data[1]["prices"][0]["value"].as_str().unwrap(),
        "recorded by the symbol upper-cased"
    );
    assert!(!served.contains_key("NOPE"));
}

#[tokio::test]
async fn prices_are_coingeckos_at_the_same_step_to_the_digit() {
    let sim = frozen_sim(7).await;
    sim.control(&ControlRequest {
        advance_steps: Some(25),
        ..Default::default()
    })
    .unwrap();

    let (status, alchemy) =
        answer(by_symbol(&sim, "k", &["BTC", "ETH", "SHIB", "USDT"]).await).await;
    let coingecko = coingecko_full(&sim, "bitcoin,ethereum,shiba-inu,tether").await;
    let markets = common::fetch_json(
        &format!("{}/coins/markets", sim.base_url()),
        &[("vs_currency", "usd"), ("ids", "bitcoin")],
    )
    .await;

    assert_eq!(status, 200);
    let alchemy: Vec<String> = values(&alchemy).into_iter().map(Option::unwrap).collect();
    assert_eq!(
        alchemy, coingecko,
        "the same coin at the same step has the same price text"
    );
    let (_, again) = answer(by_symbol(&sim, "k", &["BTC"]).await).await;
    let gecko_updated = markets[0]["last_updated"].as_str().unwrap();
    assert_eq!(
        again["data"][0]["prices"][0]["lastUpdatedAt"]
            .as_str()
            .unwrap(),
        gecko_updated.replace(".000Z", "Z"),
        "updated when the step began, as CoinGecko says"
    );
}

#[tokio::test]
async fn a_shared_ticker_names_the_best_ranked_coin_holding_it_whatever_its_case() {
    let sim = start(SimConfig {
        step_ms: 0,
        extra_coins: 400,
        churn_epoch_secs: 0,
        ..SimConfig::default()
    })
    .await;
    let list = common::fetch_json(&format!("{}/coins/list", sim.base_url()), &[]).await;
    let list = list.as_array().unwrap();
    // A ticker two synthetic coins share (a copycat and its original).
    let (symbol, a, b) = list
        .iter()
        .enumerate()
        .find_map(|(i, first)| {
            let symbol = first["symbol"].as_str()?;
            let second = list[i + 1..].iter().find(|c| c["symbol"] == symbol)?;
            let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
            id(first)
                .starts_with("sim-coin-")
                .then(|| (symbol.to_owned(), id(first), id(second)))
        })
        .expect("400 synthetic coins include a copycat");
    let on_top = |id: &str| {
        sim.control(&ControlRequest {
            set_rank: Some(SetRank {
                id: id.to_owned(),
                rank: 1,
            }),
            ..Default::default()
        })
        .unwrap();
    };

    on_top(&a);
    let (_, with_a) = answer(by_symbol(&sim, "k", &[&symbol]).await).await;
    let a_price = coingecko_full(&sim, &a).await;
    on_top(&b);
    let upper = symbol.to_uppercase();
    let (_, with_b) = answer(by_symbol(&sim, "k", &[&upper]).await).await;
    let b_price = coingecko_full(&sim, &b).await;

    assert_ne!(a_price, b_price, "{a} and {b} are priced apart");
    assert_eq!(values(&with_a), [Some(a_price[0].clone())], "{symbol}: {a}");
    assert_eq!(values(&with_b), [Some(b_price[0].clone())], "{upper}: {b}");
}

#[tokio::test]
async fn at_most_25_symbols_and_at_least_one() {
    let sim = frozen_sim(1).await;
    let many: Vec<&str> = ["BTC", "ETH", "SOL", "NOPE", "USDT"]
        .into_iter()
        .cycle()
        .take(26)
        .collect();

    let (ok, body) = answer(by_symbol(&sim, "k", &many[..25]).await).await;
    let (too_many, refused) = answer(by_symbol(&sim, "k", &many).await).await;
    let (none, empty) = answer(by_symbol(&sim, "k", &[]).await).await;
    let (brackets, bracketed) = answer(
        fetch(
            &format!("{}/k/tokens/by-symbol", sim.alchemy_url()),
            &[("symbols[]", "BTC")],
        )
        .await,
    )
    .await;

    assert_eq!(ok, 200);
    assert_eq!(values(&body).len(), 25, "repeats are answered too");
    assert_eq!(too_many, 400);
    assert!(message(&refused).contains("25"), "{refused}");
    assert_eq!(none, 400);
    assert!(!message(&empty).is_empty());
    assert_eq!(brackets, 400, "`symbols[]` is not `symbols`");
    assert!(!message(&bracketed).is_empty());
}

#[tokio::test]
async fn any_key_passes_without_configured_keys_and_only_those_with_them() {
    let open = frozen_sim(1).await;
    let keyed = start(SimConfig {
        step_ms: 0,
        api_keys: vec!["k1".to_owned()],
        ..SimConfig::default()
    })
    .await;

    let (anything, _) = answer(by_symbol(&open, "anything", &["BTC"]).await).await;
    let (right, _) = answer(by_symbol(&keyed, "k1", &["BTC"]).await).await;
    let (wrong, refused) = answer(by_symbol(&keyed, "nope", &["BTC"]).await).await;
    let (empty, _) = answer(by_symbol(&open, "", &["BTC"]).await).await;

    assert_eq!([anything, right, wrong, empty], [200, 200, 401, 401]);
    assert!(!message(&refused).is_empty());
    let stats = keyed.stats();
    assert_eq!(stats.auth_failures, 1);
    assert_eq!(stats.by_provider["alchemy"].auth_failures, 1);
    assert_eq!(stats.by_provider["alchemy"].requests, 2);
    assert_eq!(stats.by_auth["path_key"], 2);
    assert_eq!(
        stats.by_endpoint["/alchemy/prices/v1/{api_key}/tokens/by-symbol"], 2,
        "counted by route, never by key"
    );
    assert_eq!(
        open.stats().by_provider["alchemy"].auth_failures,
        1,
        "an empty key"
    );
}

#[tokio::test]
async fn past_its_minute_limit_alchemy_answers_429_counted_as_rate_limited() {
    let sim = frozen_sim(1).await;
    let set = sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "alchemy", "rate_limit_per_minute": 2 }),
    )
    .await;
    assert_eq!(set.status(), 200);

    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(by_symbol(&sim, "k", &["BTC"]).await.status().as_u16());
    }
    let limited = by_symbol(&sim, "k", &["BTC"]).await;
    let retry_after = limited.headers().get("retry-after").cloned();
    let (status, body) = answer(limited).await;
    let stats: Stats = sim_get(&sim, "/sim/stats").await;

    assert_eq!(statuses, [200, 200]);
    assert_eq!(status, 429);
    assert!(!message(&body).is_empty());
    let retry_after: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.by_provider["alchemy"].rate_limited, 1);
    assert_eq!(stats.by_provider["alchemy"].requests, 3);
}

#[tokio::test]
async fn past_its_second_limit_alchemy_answers_429_too() {
    let sim = frozen_sim(1).await;
    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "alchemy", "calls_per_sec": 1 }),
    )
    .await;

    let first = by_symbol(&sim, "k", &["BTC"]).await.status();
    let (second, body) = answer(by_symbol(&sim, "k", &["BTC"]).await).await;

    assert_eq!(first, 200);
    assert_eq!(second, 429);
    assert!(!message(&body).is_empty());
    assert_eq!(sim.stats().by_provider["alchemy"].rate_limited, 1);
}

#[tokio::test]
async fn down_or_failing_alchemy_answers_503_with_an_error_body() {
    let sim = frozen_sim(1).await;

    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "alchemy", "down": true }),
    )
    .await;
    let (down, down_body) = answer(by_symbol(&sim, "k", &["BTC"]).await).await;
    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "alchemy", "down": false, "error_rate": 1.0 }),
    )
    .await;
    let (failing, failing_body) = answer(by_symbol(&sim, "k", &["BTC"]).await).await;

    assert_eq!([down, failing], [503, 503]);
    assert!(!message(&down_body).is_empty());
    assert!(!message(&failing_body).is_empty());
    let stats = sim.stats();
    assert_eq!(stats.by_provider["alchemy"].down_rejections, 1);
    assert_eq!(stats.by_provider["alchemy"].injected_errors, 1);
}
