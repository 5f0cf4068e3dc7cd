//! The CoinLore client against wiremock: the `/api/tickers/` request (`start`, `limit` held to
//! 1..=100, the page CoinLore serves), the answers it reads in CoinLore's mixed types (`id` a
//! string, `rank` a number, prices, percents and supplies strings, `volume24` a number,
//! `msupply` `""` when uncapped, `info.time` unix seconds), every figure an exact decimal, and
//! each failure: a 429 throttles every caller for its `Retry-After` (one request, then nobody
//! asks), 5xx and an unreachable or slow host are transient, any other non-2xx is unavailable,
//! and a 200 that is not CoinLore's answer is an error, never data.

#[path = "common/gated.rs"]
mod gated;
#[path = "common/upstream.rs"]
mod upstream;

use std::time::Duration;

use coinbeat_shared::settings::CoinLoreSettings;
use coinbeat_workers::{
    coinlore::{CoinLore, CoinLoreError, MAX_PER_PAGE},
    upstream::GateError,
};
use gated::{Gated, gated};
use upstream::*;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

const TICKERS: &str = "/api/tickers/";

/// Two rows as CoinLore writes them (a captured `/api/tickers/` answer's shape): Bitcoin capped,
/// Ethereum uncapped (`msupply: ""`).
const PAGE: &str = r#"{"data":[
 {"id":"90","symbol":"BTC","name":"Bitcoin","nameid":"bitcoin","rank":1,"price_usd":"91492.61","percent_change_24h":"0.95","percent_change_1h":"-0.29","percent_change_7d":"6.40","price_btc":"1.00","market_cap_usd":"1825236061954.00","volume24":39551743260.857254,"volume24a":44763507730.31366,"csupply":"19949546.00","tsupply":"19949546","msupply":"21000000"},
 {"id":"80","symbol":"ETH","name":"Ethereum","nameid":"ethereum","rank":2,"price_usd":"3012.0512","percent_change_24h":"-1.20","percent_change_1h":"0.10","percent_change_7d":"2.00","price_btc":"0.032921","market_cap_usd":"363462214511.46","volume24":18237412345.12,"volume24a":19000000000.5,"csupply":"120671253.00","tsupply":"120671253","msupply":""}],
 "info":{"coins_num":14993,"time":1788363842}}"#;

fn settings(base_url: &str) -> CoinLoreSettings {
    CoinLoreSettings {
        base_url: base_url.to_owned(),
        timeout_ms: 5_000,
        ..CoinLoreSettings::default()
    }
}

/// The client `coinlore` describes, on a private Redis (its limiter and breaker live there),
/// with the limit off and `retries` in-job retries: this suite is about the wire and the error
/// classes, not the gate (`upstream_gate.rs` is).
async fn build(coinlore: CoinLoreSettings, retries: u32) -> Gated<CoinLore> {
    gated(
        |s| {
            s.providers.coinlore = CoinLoreSettings {
                rate_limit: "off".into(),
                ..coinlore
            };
            s.upstream.retries = retries;
        },
        |env| CoinLore::new(env).unwrap(),
    )
    .await
}

/// A client of `server`'s `/api` (where CoinLore's base URL ends) with no in-job retries.
async fn client(server: &str) -> Gated<CoinLore> {
    build(settings(&format!("{server}/api")), 0).await
}

/// The `/api/tickers/` request for `start` and `limit`.
fn page(start: &str, limit: &str) -> (String, Vec<(String, String)>) {
    (
        TICKERS.to_owned(),
        pairs(&[("start", start), ("limit", limit)]),
    )
}

/// Every client call against `server`, each with the error it must fail with.
async fn every_call_fails_with(server: &str) -> Vec<(&'static str, CoinLoreError)> {
    let coinlore = client(server).await;
    vec![
        ("tickers", coinlore.tickers(0, 100).await.unwrap_err()),
        ("ping", coinlore.ping().await.unwrap_err()),
    ]
}

// ---- Requests ----

#[tokio::test]
async fn tickers_asks_one_page_by_start_and_limit_and_holds_the_limit_to_a_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TICKERS))
        .respond_with(json_body(200, PAGE))
        .expect(4)
        .mount(&server)
        .await;
    let coinlore = client(&server.uri()).await;

    coinlore.tickers(100, 100).await.unwrap();
    coinlore.tickers(0, 500).await.unwrap();
    coinlore.tickers(250, 0).await.unwrap();
    coinlore.tickers(7, 42).await.unwrap();

    assert_eq!(MAX_PER_PAGE, 100);
    assert_eq!(
        sent(&server).await,
        [
            page("100", "100"),
            page("0", "100"),
            page("250", "1"),
            page("7", "42"),
        ],
        "limit is held to 1..=100; start is sent as given"
    );
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_asks_the_same_path() {
    let server = answering(json_body(200, PAGE)).await;
    build(settings(&format!("{}/api/", server.uri())), 0)
        .await
        .tickers(0, 2)
        .await
        .unwrap();
    assert_eq!(sent(&server).await, [page("0", "2")]);
}

#[tokio::test]
async fn ping_asks_for_the_first_ticker_only() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TICKERS))
        .and(query_param("start", "0"))
        .and(query_param("limit", "1"))
        .respond_with(json_body(200, PAGE))
        .expect(1)
        .mount(&server)
        .await;
    client(&server.uri()).await.ping().await.unwrap();
    assert_eq!(sent(&server).await, [page("0", "1")]);
}

// ---- Answers ----

#[tokio::test]
async fn mixed_types_are_read_as_exact_decimals_and_an_empty_max_supply_is_absent() {
    let server = answering(json_body(200, PAGE)).await;

    let tickers = client(&server.uri()).await.tickers(0, 2).await.unwrap();

    assert_eq!(tickers.time.unwrap().timestamp(), 1_788_363_842);
    let ids: Vec<_> = tickers.rows.iter().map(|r| r.coin_id.as_str()).collect();
    assert_eq!(ids, ["bitcoin", "ethereum"], "nameid, in CoinLore's order");

    let btc = &tickers.rows[0];
    assert_eq!(
        (btc.symbol.as_str(), btc.name.as_str(), btc.rank),
        ("BTC", "Bitcoin", Some(1))
    );
    assert_exact(btc.price_usd, "91492.61");
    assert_exact(btc.change_24h_pct, "0.95");
    assert_exact(btc.market_cap_usd, "1825236061954.00");
    assert_exact(btc.volume_24h_usd, "39551743260.857254");
    assert_exact(btc.circulating_supply, "19949546.00");
    assert_exact(btc.total_supply, "19949546");
    assert_exact(btc.max_supply, "21000000");
    assert_eq!(btc.upstream_updated_at.unwrap().timestamp(), 1_788_363_842);

    let eth = &tickers.rows[1];
    assert_eq!(
        (eth.symbol.as_str(), eth.name.as_str(), eth.rank),
        ("ETH", "Ethereum", Some(2))
    );
    assert_exact(eth.price_usd, "3012.0512");
    assert_exact(eth.change_24h_pct, "-1.20");
    assert_exact(eth.market_cap_usd, "363462214511.46");
    assert_exact(eth.volume_24h_usd, "18237412345.12");
    assert_exact(eth.circulating_supply, "120671253.00");
    assert_exact(eth.total_supply, "120671253");
    assert_eq!(
        eth.max_supply, None,
        "an empty msupply is uncapped, not zero"
    );
    assert_eq!(eth.upstream_updated_at.unwrap().timestamp(), 1_788_363_842);
}

#[tokio::test]
async fn sub_cent_prices_exponent_volumes_and_missing_figures_stay_exact_or_absent() {
    // A dead coin: a price with more digits than an f64 holds, a tiny volume in exponent
    // notation, empty and null figures, no rank; and a page without `info`.
    let server = answering(json_body(
        200,
        r#"{"data":[{"id":"48543","symbol":"DUST","name":"Dust Coin","nameid":"dust-coin",
            "price_usd":"0.000000123456789012345678","percent_change_24h":"","price_btc":"0.00",
            "market_cap_usd":"0.00","volume24":4.2e-5,"volume24a":0,"csupply":null,
            "tsupply":"1000000000000","msupply":""},
           {"id":"2","symbol":"BIG","name":"Big","nameid":"big","rank":3,"price_usd":"1",
            "percent_change_24h":"-0.00042","market_cap_usd":"1","volume24":1.2e+10,
            "csupply":"1","tsupply":"1","msupply":"1"}]}"#,
    ))
    .await;

    let tickers = client(&server.uri()).await.tickers(0, 2).await.unwrap();

    assert_eq!(tickers.time, None);
    let dust = &tickers.rows[0];
    assert_eq!(dust.coin_id, "dust-coin");
    assert_eq!(dust.rank, None);
    assert_exact(dust.price_usd, "0.000000123456789012345678");
    assert_eq!(dust.change_24h_pct, None, "an empty change is absent");
    assert_exact(dust.market_cap_usd, "0.00");
    assert_eq!(dust.volume_24h_usd, Some(dec("0.000042")));
    assert_eq!(dust.circulating_supply, None, "a null supply is absent");
    assert_exact(dust.total_supply, "1000000000000");
    assert_eq!(dust.max_supply, None);
    assert_eq!(dust.upstream_updated_at, None);

    let big = &tickers.rows[1];
    assert_eq!(big.volume_24h_usd, Some(dec("12000000000")));
    assert_exact(big.change_24h_pct, "-0.00042");
}

#[tokio::test]
async fn a_page_past_the_last_coin_is_no_rows_not_an_error() {
    let server = answering(json_body(
        200,
        r#"{"data":[],"info":{"coins_num":14993,"time":1788363842}}"#,
    ))
    .await;
    let tickers = client(&server.uri())
        .await
        .tickers(20_000, 100)
        .await
        .unwrap();
    assert!(tickers.rows.is_empty(), "{tickers:?}");
    assert_eq!(tickers.time.unwrap().timestamp(), 1_788_363_842);
}

// ---- Failures ----

#[tokio::test]
async fn a_429_throttles_every_call_for_its_retry_after_after_one_request() {
    let server = answering(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "90")
            .set_body_string("Too Many Requests"),
    )
    .await;

    // The 429 pushes CoinLore's shared limiter back for 90 s; no permit comes within the longest
    // wait, so each call is handed back throttled for what is left of it.
    for (call, error) in every_call_fails_with(&server.uri()).await {
        let retry_after = match &error {
            CoinLoreError::Gate(GateError::Throttled { retry_after, .. }) => *retry_after,
            other => panic!("{call}: {other:?}"),
        };
        assert!(
            retry_after > Duration::from_secs(89) && retry_after <= Duration::from_secs(90),
            "{call}: {retry_after:?}"
        );
    }
    assert_eq!(
        requests(&server).await.len(),
        1,
        "one 429, then nobody asks"
    );
}

#[tokio::test]
async fn a_429_without_retry_after_or_as_an_html_page_still_throttles_a_minute() {
    for response in [
        ResponseTemplate::new(429),
        ResponseTemplate::new(429).set_body_raw(
            "<html><title>429 Too Many Requests</title></html>",
            "text/html",
        ),
    ] {
        let server = answering(response).await;
        let error = client(&server.uri()).await.ping().await.unwrap_err();
        let wait = match &error {
            CoinLoreError::Gate(GateError::Throttled { retry_after, .. }) => *retry_after,
            other => panic!("{other:?}"),
        };
        assert!(
            wait > Duration::from_secs(59) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(requests(&server).await.len(), 1);
    }
}

#[tokio::test]
async fn non_2xx_answers_are_unavailable_with_their_status_and_body() {
    let long_page = format!("<html>{}</html>", "x".repeat(300));
    for (status, body, message) in [
        (500, "Internal Server Error", "Internal Server Error"),
        (502, "<html>bad gateway</html>", "<html>bad gateway</html>"),
        (503, "", ""),
        // An error page is cut to its first 200 characters.
        (521, long_page.as_str(), &long_page[..200]),
        (404, "<html>Not Found</html>", "<html>Not Found</html>"),
    ] {
        let server = answering(json_body(status, body)).await;
        for (call, error) in every_call_fails_with(&server.uri()).await {
            match &error {
                CoinLoreError::Unavailable {
                    status: got,
                    message: got_message,
                } => {
                    assert_eq!(*got, status, "{call}");
                    assert_eq!(got_message, message, "{call}");
                }
                other => panic!("{status} {call}: {other:?}"),
            }
        }
        assert_eq!(requests(&server).await.len(), 2, "{status}: one a call");
    }
}

#[tokio::test]
async fn a_server_error_is_retried_in_the_job_and_a_404_is_not() {
    let server = failing_then(
        TICKERS,
        json_body(503, "Service Unavailable"),
        1,
        json_body(200, PAGE),
    )
    .await;
    let tickers = build(settings(&format!("{}/api", server.uri())), 1)
        .await
        .tickers(0, 2)
        .await
        .unwrap();
    assert_eq!(tickers.rows.len(), 2);
    assert_eq!(sent(&server).await, [page("0", "2"), page("0", "2")]);

    let server = answering(json_body(404, "Not Found")).await;
    let error = build(settings(&format!("{}/api", server.uri())), 1)
        .await
        .ping()
        .await
        .unwrap_err();
    assert!(
        matches!(error, CoinLoreError::Unavailable { status: 404, .. }),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_host_is_a_transport_error() {
    for (call, error) in every_call_fails_with(&refusing_url()).await {
        match &error {
            CoinLoreError::Gate(GateError::Transport { source, .. }) => {
                assert!(source.is_connect(), "{call}: {source:?}")
            }
            other => panic!("{call}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_transport_error() {
    let server = answering(json_body(200, PAGE).set_delay(Duration::from_secs(30))).await;
    let coinlore = build(
        CoinLoreSettings {
            timeout_ms: 200,
            ..settings(&format!("{}/api", server.uri()))
        },
        0,
    )
    .await;

    let error = coinlore.tickers(0, 100).await.unwrap_err();

    match &error {
        CoinLoreError::Gate(GateError::Transport { source, .. }) => {
            assert!(source.is_timeout(), "{source:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_200_that_is_not_coinlores_answer_is_an_error_never_data() {
    for body in [
        "<html><head><title>Just a moment...</title></head></html>",
        "",
        "null",
        "[]",
        "{}",
        r#"{"data":null}"#,
        &PAGE[..PAGE.len() / 2],
        // `/api/ticker/`'s bare array is not a `/tickers/` page.
        r#"[{"id":"90","symbol":"BTC","name":"Bitcoin","nameid":"bitcoin","rank":1,"price_usd":"23864.25"}]"#,
        r#"{"data":[{"id":"90","symbol":"BTC","name":"Bitcoin","rank":1,"price_usd":"91492.61"}]}"#,
        r#"{"data":[{"symbol":"BTC","name":"Bitcoin","nameid":"bitcoin","price_usd":"lots"}]}"#,
        r#"{"data":[{"symbol":"BTC","name":"Bitcoin","nameid":"bitcoin","rank":"1"}]}"#,
        r#"{"data":[{"symbol":"BTC","name":"Bitcoin","nameid":"bitcoin","volume24":true}]}"#,
    ] {
        let server = answering(json_body(200, body)).await;
        let result = client(&server.uri()).await.tickers(0, 100).await;
        assert!(
            matches!(result, Err(CoinLoreError::Unavailable { status: 200, .. })),
            "{body}: {result:?}"
        );
    }
}
