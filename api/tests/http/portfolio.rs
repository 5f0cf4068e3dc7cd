//! `POST /v1/portfolio/value`: each holding valued at its cached price, exactly (amounts read
//! from their JSON text, never through a float), allocations that add up to 100 within their
//! rounding, and a holding without a cached price listed as missing, never valued.

use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::support::{Api, assert_error, json, record};

async fn post_raw(api: &Api, body: &str) -> (StatusCode, Value) {
    let response = api
        .http
        .post(api.url("/v1/portfolio/value"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST");
    json(response).await
}

fn dec(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
        .parse()
        .unwrap()
}

/// Sub-cent price × a large amount, a plain price × a JSON number, and a JSON number with more
/// digits than a float holds.
const BODY: &str = r#"{"holdings": [
    {"symbol": "SHIB", "amount": "987654321987.654321"},
    {"symbol": "BTC", "amount": 0.5},
    {"symbol": "eth", "amount": 12.3456789012345678}
]}"#;

#[tokio::test]
async fn every_value_is_price_times_amount_exactly_and_the_allocations_add_up_to_100() {
    // A holding names its coin by symbol: SHIB through `[prices.coins]`, as an operator would.
    let api = Api::start_with(|s| {
        s.prices.coins.insert("SHIB".into(), "shib-coin".into());
    })
    .await;
    let now = Utc::now();
    api.write(&[
        record("SHIB", "0.00001234567891", now),
        record("BTC", "67187.3358936566", now),
        record("ETH", "3521.5", now - TimeDelta::hours(1)),
    ])
    .await;

    let (status, body) = post_raw(&api, BODY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let holdings = body["holdings"].as_array().unwrap();
    // Computed apart, with Python's decimal module at 80 digits.
    let expected = [
        (
            "SHIB",
            "987654321987.654321",
            "0.00001234567891",
            "12193263.13333333323114007011",
            "99.3719",
        ),
        (
            "BTC",
            "0.5",
            "67187.3358936566",
            "33593.66794682830",
            "0.2738",
        ),
        (
            "ETH",
            "12.3456789012345678",
            "3521.5",
            "43475.30825069753050770",
            "0.3543",
        ),
    ];
    assert_eq!(holdings.len(), 3, "{body}");
    for (holding, (symbol, amount, price, value, pct)) in holdings.iter().zip(expected) {
        assert_eq!(holding["symbol"], symbol);
        assert_eq!(holding["amount"], amount, "{holding}");
        assert_eq!(holding["price_usd"], price);
        assert_eq!(holding["value_usd"], value, "{holding}");
        assert_eq!(
            dec(&holding["value_usd"]),
            dec(&holding["amount"]) * dec(&holding["price_usd"])
        );
        assert_eq!(holding["allocation_pct"], pct);
        assert!(holding["fetched_at"].is_string());
        assert!(holding["age_seconds"].is_u64());
    }
    assert_eq!(holdings[0]["stale"], false);
    assert_eq!(holdings[2]["stale"], true, "an hour old is stale");
    assert_eq!(holdings[2]["age_seconds"].as_u64().unwrap() / 60, 60);
    assert_eq!(body["any_stale"], true);
    assert_eq!(body["total_value_usd"], "12270332.10953085906164777011");
    assert_eq!(body["partial"], false);
    assert_eq!(body["allocation_decimals"], 4);
    let sum: Decimal = holdings.iter().map(|h| dec(&h["allocation_pct"])).sum();
    let tolerance = Decimal::new(5, 5) * Decimal::from(holdings.len());
    assert!((sum - Decimal::ONE_HUNDRED).abs() <= tolerance, "sum {sum}");
}

#[tokio::test]
async fn a_holding_without_a_cached_price_is_missing_and_the_total_is_partial() {
    let api = Api::start().await;
    api.write(&[record("BTC", "60000.5", Utc::now())]).await;
    let (status, body) = post_raw(
        &api,
        r#"{"holdings": [{"symbol": "ETH", "amount": "2"}, {"symbol": "BTC", "amount": "2"},
            {"symbol": "ZZZQ", "amount": "1"}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["holdings"].as_array().unwrap().len(), 1);
    assert_eq!(body["holdings"][0]["value_usd"], "120001.0");
    assert_eq!(body["holdings"][0]["allocation_pct"], "100.0000");
    assert_eq!(body["total_value_usd"], "120001.0");
    assert_eq!(body["partial"], true);
    let missing = body["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 2);
    assert_eq!(missing[0]["symbol"], "ETH");
    assert_eq!(missing[0]["amount"], "2");
    assert_eq!(missing[0]["reason"], "not_fetched_yet");
    assert_eq!(missing[1]["reason"], "unknown_coin");
    assert!(missing[0].get("value_usd").is_none(), "never valued");
}

#[tokio::test]
async fn a_symbol_listed_twice_is_one_holding_with_the_amounts_summed() {
    let api = Api::start().await;
    api.write(&[record("BTC", "60000", Utc::now())]).await;
    let (status, body) = post_raw(
        &api,
        r#"{"holdings": [{"symbol": "BTC", "amount": "0.1"}, {"symbol": "btc", "amount": 0.2}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["holdings"].as_array().unwrap().len(), 1);
    assert_eq!(body["holdings"][0]["amount"], "0.3", "0.1 + 0.2 exactly");
    assert_eq!(body["holdings"][0]["value_usd"], "18000.0");
}

/// Values a `Decimal` cannot hold (a product past 28 digits, a total of wildly different
/// magnitudes) are answered exactly, not refused and not rounded (schemathesis found the 422).
#[tokio::test]
async fn values_past_28_digits_are_exact() {
    let api = Api::start().await;
    let now = Utc::now();
    api.write(&[
        record("BTC", "67187.3358936566", now),
        record("ETH", "0.0000000000000001", now),
    ])
    .await;
    let (status, body) = post_raw(
        &api,
        r#"{"holdings": [{"symbol": "BTC", "amount": 7.922816251426433e28},
            {"symbol": "ETH", "amount": "0.00000001"},
            {"symbol": "BTC", "amount": "0.1234567890123456789"}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Computed apart, with Python's decimal module at 80 digits.
    assert_eq!(
        body["holdings"][0]["amount"],
        "79228162514264330000000000000.1234567890123456789"
    );
    assert_eq!(
        body["holdings"][0]["value_usd"],
        "5323129167083090155005462649086294.73275172476257974692893046574"
    );
    assert_eq!(
        body["holdings"][1]["value_usd"],
        "0.000000000000000000000001"
    );
    assert_eq!(
        body["total_value_usd"],
        "5323129167083090155005462649086294.73275172476257974692893146574"
    );
    assert_eq!(body["holdings"][0]["allocation_pct"], "100.0000");
    assert_eq!(body["holdings"][1]["allocation_pct"], "0.0000");
}

#[tokio::test]
async fn bad_holdings_are_422_saying_what_is_wrong() {
    let api = Api::start_with(|s| s.api.max_portfolio_holdings = 2).await;
    for (body, code, says) in [
        (
            r#"{"holdings": [{"symbol": "BTC", "amount": "0"}]}"#,
            "invalid_holdings",
            "above zero",
        ),
        (
            r#"{"holdings": [{"symbol": "BTC", "amount": -1}]}"#,
            "invalid_holdings",
            "above zero",
        ),
        (
            r#"{"holdings": [{"symbol": "BTC", "amount": "lots"}]}"#,
            "invalid_holdings",
            "not a decimal",
        ),
        (
            r#"{"holdings": [{"symbol": "BTC", "amount": true}]}"#,
            "invalid_holdings",
            "decimal string or a number",
        ),
        (r#"{"holdings": []}"#, "invalid_holdings", "empty"),
        (
            r#"{"holdings": [{"symbol": "A", "amount": 1}, {"symbol": "B", "amount": 1}, {"symbol": "C", "amount": 1}]}"#,
            "invalid_holdings",
            "at most 2",
        ),
        (
            r#"{"holdings": [{"symbol": "B-TC", "amount": "1"}]}"#,
            "invalid_symbol",
            "",
        ),
        (
            r#"{"holdings": [{"symbol": "BTC"}]}"#,
            "invalid_body",
            "amount",
        ),
        // serde would read the struct from an array; the API takes objects only.
        (
            r#"[[{"symbol": "BTC", "amount": "1"}]]"#,
            "invalid_body",
            "JSON object",
        ),
    ] {
        let (status, answer) = post_raw(&api, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_error(&answer, code);
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
}
