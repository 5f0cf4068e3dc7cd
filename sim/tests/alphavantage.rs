//! Alpha Vantage's `CURRENCY_EXCHANGE_RATE` over real HTTP: the numbered keys with string values
//! and 8 decimals, rates near reality that only move with the sim's steps, cross rates through
//! the dollar, errors, key refusals and rate limits inside a 200 (counted in `/sim/stats`), and
//! an outage as a 503.

mod common;

use coinbeat_sim::{ControlRequest, FIAT_CURRENCIES, Provider, SimConfig, SimHandle, Stats};
use common::{fetch, frozen_sim, sim_get, sim_post, start};
use serde_json::{Value, json};

const INVALID_CALL: &str = "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for CURRENCY_EXCHANGE_RATE.";
const INVALID_KEY: &str = "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds.";
const RATE_LIMITED: &str = "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day) and instantly unlock all premium endpoints";

const KEYS: [&str; 9] = [
    "1. From_Currency Code",
    "2. From_Currency Name",
    "3. To_Currency Code",
    "4. To_Currency Name",
    "5. Exchange Rate",
    "6. Last Refreshed",
    "7. Time Zone",
    "8. Bid Price",
    "9. Ask Price",
];

/// `GET {base}/query` with exactly these parameters.
async fn query(sim: &SimHandle, params: &[(&str, &str)]) -> reqwest::Response {
    fetch(&format!("{}/query", sim.alphavantage_url()), params).await
}

/// The status and the raw body of `CURRENCY_EXCHANGE_RATE` from `from` to `to` with `key`.
async fn exchange(sim: &SimHandle, from: &str, to: &str, key: &str) -> (u16, String) {
    let response = query(
        sim,
        &[
            ("function", "CURRENCY_EXCHANGE_RATE"),
            ("from_currency", from),
            ("to_currency", to),
            ("apikey", key),
        ],
    )
    .await;
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The `Realtime Currency Exchange Rate` object of a 200 answer.
async fn rate_object(sim: &SimHandle, from: &str, to: &str) -> Value {
    let (status, text) = exchange(sim, from, to, "k").await;
    assert_eq!(status, 200, "{text}");
    parse(&text)["Realtime Currency Exchange Rate"].clone()
}

/// The `5. Exchange Rate` text from `from` to `to`.
async fn rate_text(sim: &SimHandle, from: &str, to: &str) -> String {
    let rate = rate_object(sim, from, to).await;
    rate["5. Exchange Rate"]
        .as_str()
        .unwrap_or_else(|| panic!("no rate: {rate}"))
        .to_owned()
}

async fn rate(sim: &SimHandle, from: &str, to: &str) -> f64 {
    rate_text(sim, from, to).await.parse().unwrap()
}

/// The only key of a 200's body and its text: `("Error Message", "...")`.
fn only_entry(text: &str) -> (String, String) {
    let body = parse(text);
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {text}"));
    assert_eq!(object.len(), 1, "{text}");
    let (key, value) = object.iter().next().unwrap();
    (key.clone(), value.as_str().unwrap().to_owned())
}

fn has_eight_decimals(text: &str) -> bool {
    text.split_once('.').is_some_and(|(whole, places)| {
        !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && places.len() == 8
            && places.bytes().all(|b| b.is_ascii_digit())
    })
}

#[tokio::test]
async fn the_rate_has_numbered_keys_string_values_and_eight_decimals() {
    let sim = frozen_sim(1).await;

    let response = query(
        &sim,
        &[
            ("function", "CURRENCY_EXCHANGE_RATE"),
            ("from_currency", "USD"),
            ("to_currency", "EUR"),
            ("apikey", "demo"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().get("retry-after").is_none());
    let text = response.text().await.unwrap();
    let markets = common::fetch_json(
        &format!("{}/coins/markets", sim.base_url()),
        &[("vs_currency", "usd"), ("ids", "bitcoin")],
    )
    .await;

    assert!(
        text.starts_with(
            r#"{"Realtime Currency Exchange Rate":{"1. From_Currency Code":"USD","2. From_Currency Name":"United States Dollar","3. To_Currency Code":"EUR","4. To_Currency Name":"Euro","5. Exchange Rate":""#
        ),
        "{text}"
    );
    let body = parse(&text);
    assert_eq!(body.as_object().unwrap().len(), 1, "{text}");
    let rate = body["Realtime Currency Exchange Rate"].as_object().unwrap();
    let keys: Vec<&str> = rate.keys().map(String::as_str).collect();
    assert_eq!(keys, KEYS, "numbered keys, in order");
    assert!(rate.values().all(Value::is_string), "every value a string");
    for key in ["5. Exchange Rate", "8. Bid Price", "9. Ask Price"] {
        let value = rate[key].as_str().unwrap();
        assert!(has_eight_decimals(value), "{key}: {value}");
    }
    let number = |key: &str| rate[key].as_str().unwrap().parse::<f64>().unwrap();
    let eur = number("5. Exchange Rate");
    assert!((0.915..=0.925).contains(&eur), "USD→EUR {eur}");
    assert!(number("8. Bid Price") < eur && eur < number("9. Ask Price"));
    assert_eq!(rate["7. Time Zone"], "UTC");
    let refreshed = rate["6. Last Refreshed"].as_str().unwrap();
    let updated = markets[0]["last_updated"].as_str().unwrap();
    assert_eq!(
        refreshed,
        updated[..19].replace('T', " "),
        "when the step began, as CoinGecko's last_updated says"
    );
    let served = sim.served().alphavantage;
    assert_eq!(served["USD/EUR"].usd, eur_text(rate));
    assert_eq!(
        sim.alphavantage_rate("USD", "EUR").as_deref(),
        Some(eur_text(rate))
    );
    assert!(sim.alphavantage_url().ends_with("/alphavantage"));
}

fn eur_text(rate: &serde_json::Map<String, Value>) -> &str {
    rate["5. Exchange Rate"].as_str().unwrap()
}

#[tokio::test]
async fn every_known_currency_is_named_and_near_its_anchor() {
    let sim = frozen_sim(3).await;
    sim.control(&ControlRequest {
        advance_steps: Some(5_000),
        ..Default::default()
    })
    .unwrap();

    for currency in FIAT_CURRENCIES {
        let rate = rate_object(&sim, "USD", currency.code).await;
        assert_eq!(rate["3. To_Currency Code"], currency.code);
        assert_eq!(rate["4. To_Currency Name"], currency.name);
        let value: f64 = rate["5. Exchange Rate"].as_str().unwrap().parse().unwrap();
        let off = value / currency.per_usd - 1.0;
        assert!(off.abs() <= 0.005 + 1e-8, "{}: {value}", currency.code);
    }
    let codes: Vec<&str> = FIAT_CURRENCIES.iter().map(|c| c.code).collect();
    for code in [
        "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "CNY", "INR", "KRW", "BRL", "MXN",
    ] {
        assert!(codes.contains(&code), "{code}");
    }
    let usd_jpy = rate(&sim, "USD", "JPY").await;
    assert!((149.0..151.0).contains(&usd_jpy), "{usd_jpy}");
    assert_eq!(
        sim.served().alphavantage.len(),
        FIAT_CURRENCIES.len(),
        "one entry per pair asked"
    );
}

#[tokio::test]
async fn cross_rates_go_through_the_dollar_and_a_currency_to_itself_is_one() {
    let sim = frozen_sim(5).await;
    sim.control(&ControlRequest {
        advance_steps: Some(777),
        ..Default::default()
    })
    .unwrap();

    let eur_jpy = rate(&sim, "EUR", "JPY").await;
    let jpy_eur = rate(&sim, "JPY", "EUR").await;
    let usd_eur = rate(&sim, "USD", "EUR").await;
    let usd_jpy = rate(&sim, "USD", "JPY").await;
    let gbp_gbp = rate_object(&sim, "GBP", "GBP").await;
    let lower = rate_object(&sim, "eur", "jpy").await;

    let through_usd = usd_jpy / usd_eur;
    assert!(
        (eur_jpy / through_usd - 1.0).abs() < 1e-6,
        "EUR→JPY {eur_jpy}, JPY/EUR {through_usd}"
    );
    assert!(
        (eur_jpy * jpy_eur - 1.0).abs() < 1e-5,
        "{eur_jpy} {jpy_eur}"
    );
    for key in ["5. Exchange Rate", "8. Bid Price", "9. Ask Price"] {
        assert_eq!(gbp_gbp[key], "1.00000000", "{key}");
    }
    assert_eq!(
        lower["1. From_Currency Code"], "EUR",
        "codes answered upper-case"
    );
    assert_eq!(
        lower["5. Exchange Rate"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        eur_jpy
    );
    let served = sim.served().alphavantage;
    assert!(served.contains_key("EUR/JPY") && served.contains_key("JPY/EUR"));
    assert_eq!(served["GBP/GBP"].usd, "1.00000000");
}

#[tokio::test]
async fn a_frozen_instant_gives_one_answer_and_steps_move_the_rates() {
    let sim = frozen_sim(11).await;
    let twin = frozen_sim(11).await;
    let other_seed = frozen_sim(12).await;

    let (_, first) = exchange(&sim, "USD", "GBP", "k").await;
    let (_, second) = exchange(&sim, "USD", "GBP", "k").await;
    let twin_rate = rate_text(&twin, "USD", "GBP").await;
    let other_rate = rate_text(&other_seed, "USD", "GBP").await;
    let from_handle = sim.alphavantage_rate("USD", "GBP").unwrap();
    sim.control(&ControlRequest {
        advance_steps: Some(600),
        ..Default::default()
    })
    .unwrap();
    let moved = rate_text(&sim, "USD", "GBP").await;
    let moved_handle = sim.alphavantage_rate("usd", "gbp").unwrap();

    assert_eq!(first, second, "the same body at the same step, to the byte");
    let first_rate = parse(&first)["Realtime Currency Exchange Rate"]["5. Exchange Rate"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        twin_rate, first_rate,
        "the same seed and step, the same rate"
    );
    assert_ne!(other_rate, first_rate, "another seed, another rate");
    assert_eq!(from_handle, first_rate);
    assert_ne!(moved, first_rate, "600 steps later the rate has drifted");
    assert_eq!(moved_handle, moved);
    assert_eq!(sim.alphavantage_rate("USD", "XYZ"), None);
}

#[tokio::test]
async fn unknown_currencies_functions_and_missing_parameters_get_an_error_message_at_200() {
    let sim = frozen_sim(1).await;
    let f = ("function", "CURRENCY_EXCHANGE_RATE");
    let key = ("apikey", "k");
    let cases: [&[(&str, &str)]; 8] = [
        &[f, ("from_currency", "USD"), ("to_currency", "XYZ"), key],
        &[f, ("from_currency", "BTC"), ("to_currency", "USD"), key],
        &[
            ("function", "FX_DAILY"),
            ("from_currency", "USD"),
            ("to_currency", "EUR"),
            key,
        ],
        &[("from_currency", "USD"), ("to_currency", "EUR"), key],
        &[f, ("to_currency", "EUR"), key],
        &[f, ("from_currency", "USD"), key],
        &[f, ("from_currency", "USD"), ("to_currency", ""), key],
        &[
            ("function", "currency_exchange_rate"),
            ("from_currency", "USD"),
            ("to_currency", "EUR"),
            key,
        ],
    ];

    for params in cases {
        let response = query(&sim, params).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{params:?}");
        assert_eq!(
            only_entry(&text),
            ("Error Message".to_owned(), INVALID_CALL.to_owned()),
            "{params:?}"
        );
    }
    let stats = sim.stats();
    let own = &stats.by_provider["alphavantage"];
    assert_eq!(own.requests, 8);
    assert_eq!(
        [own.auth_failures, own.rate_limited, own.down_rejections],
        [0, 0, 0]
    );
    assert!(sim.served().alphavantage.is_empty(), "nothing was served");
}

#[tokio::test]
async fn a_missing_blank_or_unknown_key_gets_its_error_message_counted_as_an_auth_failure() {
    let open = frozen_sim(1).await;
    let keyed = start(SimConfig {
        step_ms: 0,
        api_keys: vec!["k1".to_owned()],
        ..SimConfig::default()
    })
    .await;
    let without_key = [
        ("function", "CURRENCY_EXCHANGE_RATE"),
        ("from_currency", "USD"),
        ("to_currency", "EUR"),
    ];

    let missing = query(&open, &without_key).await;
    let missing = (missing.status().as_u16(), missing.text().await.unwrap());
    let blank = exchange(&open, "USD", "EUR", "  ").await;
    let anything = exchange(&open, "USD", "EUR", "anything").await;
    let right = exchange(&keyed, "USD", "EUR", "k1").await;
    let wrong = exchange(&keyed, "USD", "EUR", "nope").await;
    // The key is checked before the parameters.
    let wrong_and_unknown = exchange(&keyed, "USD", "XYZ", "nope").await;

    let refused = ("Error Message".to_owned(), INVALID_KEY.to_owned());
    for (status, text) in [&missing, &blank, &wrong, &wrong_and_unknown] {
        assert_eq!(*status, 200);
        assert_eq!(only_entry(text), refused);
    }
    assert_eq!([anything.0, right.0], [200, 200]);
    assert!(parse(&right.1)["Realtime Currency Exchange Rate"].is_object());
    let open_stats: Stats = sim_get(&open, "/sim/stats").await;
    assert_eq!(open_stats.auth_failures, 2);
    assert_eq!(open_stats.by_provider["alphavantage"].auth_failures, 2);
    assert_eq!(open_stats.by_auth["none"], 2, "missing and blank");
    assert_eq!(open_stats.by_auth["apikey"], 1);
    assert_eq!(open_stats.by_endpoint["/alphavantage/query"], 3);
    let keyed_stats = keyed.stats();
    assert_eq!(keyed_stats.by_provider["alphavantage"].auth_failures, 2);
    assert_eq!(keyed_stats.by_provider["alphavantage"].requests, 3);
}

#[tokio::test]
async fn past_its_day_limit_alpha_vantage_answers_information_at_200_counted_as_rate_limited() {
    let sim = frozen_sim(1).await;
    let set = sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "alphavantage", "calls_per_day": 2 }),
    )
    .await;
    assert_eq!(set.status(), 200);
    let faults: coinbeat_sim::Faults = set.json().await.unwrap();
    assert_eq!(faults.alphavantage.calls_per_day, 2);
    let without_provider = sim_post(&sim, "/sim/control", json!({ "calls_per_day": 2 })).await;
    assert_eq!(
        without_provider.status(),
        400,
        "calls_per_day names a provider"
    );

    let first = exchange(&sim, "USD", "EUR", "k").await;
    let second = exchange(&sim, "USD", "JPY", "k").await;
    let limited = query(
        &sim,
        &[
            ("function", "CURRENCY_EXCHANGE_RATE"),
            ("from_currency", "USD"),
            ("to_currency", "GBP"),
            ("apikey", "k"),
        ],
    )
    .await;
    let retry_after = limited.headers().get("retry-after").cloned();
    let limited = (limited.status().as_u16(), limited.text().await.unwrap());
    let stats: Stats = sim_get(&sim, "/sim/stats").await;

    assert_eq!([first.0, second.0], [200, 200]);
    assert_eq!(limited.0, 200);
    assert_eq!(
        only_entry(&limited.1),
        ("Information".to_owned(), RATE_LIMITED.to_owned())
    );
    assert!(retry_after.is_none(), "Alpha Vantage sends no Retry-After");
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.by_provider["alphavantage"].rate_limited, 1);
    assert_eq!(stats.by_provider["alphavantage"].requests, 3);
    assert!(!sim.served().alphavantage.contains_key("USD/GBP"));

    // A reset forgets the day's calls; a limit of 0 removes it.
    sim_post(&sim, "/sim/reset", json!({})).await;
    assert_eq!(exchange(&sim, "USD", "GBP", "k").await.0, 200);
    sim.control(&ControlRequest {
        provider: Some(Provider::AlphaVantage),
        calls_per_day: Some(0),
        ..Default::default()
    })
    .unwrap();
    for _ in 0..3 {
        let (_, text) = exchange(&sim, "USD", "GBP", "k").await;
        assert!(
            parse(&text)["Realtime Currency Exchange Rate"].is_object(),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_minute_and_second_limits_answer_information_too() {
    let sim = frozen_sim(1).await;
    sim.control(&ControlRequest {
        provider: Some(Provider::AlphaVantage),
        rate_limit_per_minute: Some(1),
        ..Default::default()
    })
    .unwrap();
    let first = exchange(&sim, "USD", "EUR", "k").await;
    let per_minute = exchange(&sim, "USD", "EUR", "k").await;

    let sim = frozen_sim(1).await;
    sim.control(&ControlRequest {
        provider: Some(Provider::AlphaVantage),
        calls_per_sec: Some(1),
        ..Default::default()
    })
    .unwrap();
    exchange(&sim, "USD", "EUR", "k").await;
    let per_second = exchange(&sim, "USD", "EUR", "k").await;

    assert_eq!(first.0, 200);
    for (status, text) in [per_minute, per_second] {
        assert_eq!(status, 200);
        assert_eq!(only_entry(&text).0, "Information");
    }
    assert_eq!(sim.stats().by_provider["alphavantage"].rate_limited, 1);
}

#[tokio::test]
async fn down_or_failing_alpha_vantage_answers_503() {
    let sim = frozen_sim(1).await;

    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "alphavantage", "down": true }),
    )
    .await;
    let down = exchange(&sim, "USD", "EUR", "k").await;
    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "alphavantage", "down": false, "error_rate": 1.0 }),
    )
    .await;
    let failing = exchange(&sim, "USD", "EUR", "k").await;
    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "alphavantage", "error_rate": 0.0 }),
    )
    .await;
    let back = exchange(&sim, "USD", "EUR", "k").await;

    assert_eq!([down.0, failing.0, back.0], [503, 503, 200]);
    assert!(!down.1.is_empty() && !failing.1.is_empty());
    let stats = sim.stats();
    assert_eq!(stats.by_provider["alphavantage"].down_rejections, 1);
    assert_eq!(stats.by_provider["alphavantage"].injected_errors, 1);
    assert_eq!(stats.down_rejections, 1);
}
