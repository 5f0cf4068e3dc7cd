//! The Binance spot client against wiremock: the request `/api/v3/ticker/24hr` gets (every pair
//! in one `symbols` JSON array, or one `symbol` at a time when retrying pair by pair), the
//! answers it reads in Binance's wire format (every price a string, read as an exact decimal;
//! times as ms numbers), the "Invalid symbol." (-1121) answer that fails a whole multi-symbol
//! request and leaves only the unknown pairs out, and each failure classified: 429 and 418
//! throttle every caller for their `Retry-After` (one request, then nobody asks), other 4xx are
//! rejections with Binance's code and message, 5xx and an unreachable or slow host are
//! transient, and a 200 that is not Binance's answer is an error, never data.

#[path = "common/gated.rs"]
mod gated;
#[path = "common/upstream.rs"]
mod upstream;

use std::time::Duration;

use coinbeat_shared::settings::BinanceSettings;
use coinbeat_workers::{
    binance::{Binance, BinanceError, Ticker24h},
    upstream::GateError,
};
use gated::{Gated, gated};
use upstream::*;
use wiremock::{
    Mock, MockServer,
    matchers::{method, path, query_param},
};

const TICKER: &str = "/api/v3/ticker/24hr";

/// Binance's answer to an unknown pair, alone or among others (HTTP 400).
const INVALID_SYMBOL: &str = r#"{"code":-1121,"msg":"Invalid symbol."}"#;

/// Binance's 429 body (code -1003); it comes with a `Retry-After` in seconds.
const TOO_MUCH_WEIGHT: &str = r#"{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."}"#;

/// Binance's 418 body: banned for carrying on after 429s.
const BANNED: &str = r#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1700090000000. Please use WebSocket Streams for live updates to avoid bans."}"#;

/// Full rows as `/ticker/24hr` writes them (the documented row's shape): prices, percents and
/// volumes strings with Binance's trailing zeros, times ms numbers.
const BTC_ROW: &str = r#"{"symbol":"BTCUSDT","priceChange":"-1205.12000000","priceChangePercent":"-1.250","weightedAvgPrice":"95840.11000000","prevClosePrice":"96381.71000000","lastPrice":"95176.59000000","lastQty":"0.00105000","bidPrice":"95176.58000000","bidQty":"3.51000000","askPrice":"95176.59000000","askQty":"1.20000000","openPrice":"96381.71000000","highPrice":"97300.00000000","lowPrice":"94812.00000000","volume":"12.50000000","quoteVolume":"1189707.37500000","openTime":1699999999999,"closeTime":1700086400000,"firstId":28385,"lastId":28460,"count":76}"#;
const ETH_ROW: &str = r#"{"symbol":"ETHUSDT","priceChange":"12.34000000","priceChangePercent":"0.412","weightedAvgPrice":"3001.2","lastPrice":"3012.05120000","volume":"9001.1","quoteVolume":"27109813.99912345","openTime":1700000000001,"closeTime":1700086400001,"count":12}"#;
/// A sub-cent price with more digits than an f64 keeps, a zero change and no volume.
const PEPE_ROW: &str = r#"{"symbol":"PEPEUSDT","priceChange":"0.00000000","priceChangePercent":"0.000","lastPrice":"0.0000098212345678901234","volume":"0.00","quoteVolume":"0.00000000","openTime":1700000000002,"closeTime":1700086400002,"count":0}"#;
/// `type=MINI`'s row: no `priceChange*`.
const MINI_ROW: &str = r#"{"symbol":"BNBUSDT","openPrice":"600.00000000","highPrice":"612.00000000","lowPrice":"590.00000000","lastPrice":"605.10000000","volume":"100.00000000","quoteVolume":"60510.00000000","openTime":1700000000003,"closeTime":1700086400003,"firstId":1,"lastId":2,"count":2}"#;

fn settings(base_url: &str) -> BinanceSettings {
    BinanceSettings {
        base_url: base_url.to_owned(),
        timeout_ms: 5_000,
        ..BinanceSettings::default()
    }
}

/// The client `binance` describes, on a private Redis (its limiter and breaker live there),
/// with the limit off and `retries` in-job retries: this suite is about the wire and the error
/// classes, not the gate (`upstream_gate.rs` is).
async fn build(binance: BinanceSettings, retries: u32) -> Gated<Binance> {
    gated(
        |s| {
            s.providers.binance = BinanceSettings {
                rate_limit: "off".into(),
                ..binance
            };
            s.upstream.retries = retries;
        },
        |env| Binance::new(env).unwrap(),
    )
    .await
}

/// A client of `base_url` with no in-job retries.
async fn client(base_url: &str) -> Gated<Binance> {
    build(settings(base_url), 0).await
}

fn pairs_of(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The `/ticker/24hr` request for every pair at once.
fn batch(list: &[&str]) -> (String, Vec<(String, String)>) {
    let array = format!(
        "[{}]",
        list.iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    (TICKER.to_owned(), pairs(&[("symbols", &array)]))
}

/// The `/ticker/24hr` request for one pair, as the pair-by-pair retry sends it.
fn single(pair: &str) -> (String, Vec<(String, String)>) {
    (TICKER.to_owned(), pairs(&[("symbol", pair)]))
}

fn pairs_in(rows: &[Ticker24h]) -> Vec<&str> {
    rows.iter().map(|r| r.pair.as_str()).collect()
}

/// Every client call against `base_url`, each with the error it must fail with.
async fn every_call_fails_with(base_url: &str) -> Vec<(&'static str, BinanceError)> {
    let binance = client(base_url).await;
    vec![
        (
            "tickers_24h",
            binance
                .tickers_24h(&pairs_of(&["BTCUSDT", "ETHUSDT"]))
                .await
                .unwrap_err(),
        ),
        (
            "tickers_24h one pair",
            binance
                .tickers_24h(&pairs_of(&["BTCUSDT"]))
                .await
                .unwrap_err(),
        ),
        ("ping", binance.ping().await.unwrap_err()),
    ]
}

// ---- Requests ----

#[tokio::test]
async fn tickers_24h_asks_every_pair_in_one_request_as_a_json_array() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TICKER))
        .and(query_param(
            "symbols",
            r#"["BTCUSDT","ETHUSDT","PEPEUSDT"]"#,
        ))
        .respond_with(json_body(200, &format!("[{BTC_ROW},{ETH_ROW},{PEPE_ROW}]")))
        .expect(1)
        .mount(&server)
        .await;

    let rows = client(&server.uri())
        .await
        .tickers_24h(&pairs_of(&["BTCUSDT", "ETHUSDT", "PEPEUSDT"]))
        .await
        .unwrap();

    assert_eq!(pairs_in(&rows), ["BTCUSDT", "ETHUSDT", "PEPEUSDT"]);
    assert_eq!(
        sent(&server).await,
        [batch(&["BTCUSDT", "ETHUSDT", "PEPEUSDT"])],
        "one request, no `symbol`, no `type`"
    );
}

#[tokio::test]
async fn one_pair_is_still_a_symbols_array_and_no_pairs_send_nothing() {
    let server = answering(json_body(200, &format!("[{BTC_ROW}]"))).await;
    let binance = client(&server.uri()).await;

    assert!(binance.tickers_24h(&[]).await.unwrap().is_empty());
    assert!(sent(&server).await.is_empty(), "no pairs, no request");

    let rows = binance.tickers_24h(&pairs_of(&["BTCUSDT"])).await.unwrap();
    assert_eq!(pairs_in(&rows), ["BTCUSDT"]);
    assert_eq!(sent(&server).await, [batch(&["BTCUSDT"])]);
}

#[tokio::test]
async fn ping_is_get_api_v3_ping_with_no_query_even_under_a_base_url_with_a_trailing_slash() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ping"))
        .respond_with(json_body(200, "{}"))
        .expect(1)
        .mount(&server)
        .await;

    build(settings(&format!("{}/", server.uri())), 0)
        .await
        .ping()
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent[0].url.path(), "/api/v3/ping");
    assert_eq!(sent[0].url.query(), None);
}

// ---- Answers ----

#[tokio::test]
async fn every_string_is_read_as_the_exact_decimal_binance_wrote_and_close_time_as_ms() {
    let server = answering(json_body(
        200,
        &format!("[{BTC_ROW},{ETH_ROW},{PEPE_ROW},{MINI_ROW}]"),
    ))
    .await;

    let rows = client(&server.uri())
        .await
        .tickers_24h(&pairs_of(&["BTCUSDT", "ETHUSDT", "PEPEUSDT", "BNBUSDT"]))
        .await
        .unwrap();

    assert_eq!(
        pairs_in(&rows),
        ["BTCUSDT", "ETHUSDT", "PEPEUSDT", "BNBUSDT"],
        "in the order Binance sent them"
    );

    let btc = &rows[0];
    assert_exact(Some(btc.last_price), "95176.59000000");
    assert_exact(btc.price_change_percent, "-1.250");
    assert_exact(btc.quote_volume, "1189707.37500000");
    assert_eq!(btc.close_time_ms, Some(1_700_086_400_000));

    let eth = &rows[1];
    assert_exact(Some(eth.last_price), "3012.05120000");
    assert_exact(eth.price_change_percent, "0.412");
    assert_exact(eth.quote_volume, "27109813.99912345");
    assert_eq!(eth.close_time_ms, Some(1_700_086_400_001));

    let pepe = &rows[2];
    assert_exact(Some(pepe.last_price), "0.0000098212345678901234");
    assert_exact(pepe.price_change_percent, "0.000");
    assert_exact(pepe.quote_volume, "0.00000000");
    assert_eq!(pepe.close_time_ms, Some(1_700_086_400_002));

    let bnb = &rows[3];
    assert_exact(Some(bnb.last_price), "605.10000000");
    assert_eq!(bnb.price_change_percent, None, "a MINI row has no change");
    assert_exact(bnb.quote_volume, "60510.00000000");
    assert_eq!(bnb.close_time_ms, Some(1_700_086_400_003));
}

#[tokio::test]
async fn an_invalid_symbol_fails_the_batch_so_pairs_are_asked_one_by_one_and_the_unknown_left_out()
{
    let server = MockServer::start().await;
    Mock::given(path(TICKER))
        .and(query_param(
            "symbols",
            r#"["BTCUSDT","NOPEUSDT","ETHUSDT"]"#,
        ))
        .respond_with(json_body(400, INVALID_SYMBOL))
        .mount(&server)
        .await;
    for (pair, row) in [("BTCUSDT", BTC_ROW), ("ETHUSDT", ETH_ROW)] {
        Mock::given(path(TICKER))
            .and(query_param("symbol", pair))
            .respond_with(json_body(200, row))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(path(TICKER))
        .and(query_param("symbol", "NOPEUSDT"))
        .respond_with(json_body(400, INVALID_SYMBOL))
        .expect(1)
        .mount(&server)
        .await;

    let rows = client(&server.uri())
        .await
        .tickers_24h(&pairs_of(&["BTCUSDT", "NOPEUSDT", "ETHUSDT"]))
        .await
        .unwrap();

    assert_eq!(pairs_in(&rows), ["BTCUSDT", "ETHUSDT"]);
    // A single-pair answer is one object, read like an array's row.
    assert_exact(Some(rows[0].last_price), "95176.59000000");
    assert_exact(rows[1].quote_volume, "27109813.99912345");
    assert_eq!(rows[1].close_time_ms, Some(1_700_086_400_001));
    assert_eq!(
        sent(&server).await,
        [
            batch(&["BTCUSDT", "NOPEUSDT", "ETHUSDT"]),
            single("BTCUSDT"),
            single("NOPEUSDT"),
            single("ETHUSDT"),
        ]
    );
}

#[tokio::test]
async fn unknown_pairs_alone_are_no_rows_not_an_error() {
    // Every pair unknown: the batch, then each pair, all -1121.
    let server = answering(json_body(400, INVALID_SYMBOL)).await;
    let rows = client(&server.uri())
        .await
        .tickers_24h(&pairs_of(&["NOPEUSDT", "NADAUSDT"]))
        .await
        .unwrap();
    assert!(rows.is_empty(), "{rows:?}");
    assert_eq!(
        sent(&server).await,
        [
            batch(&["NOPEUSDT", "NADAUSDT"]),
            single("NOPEUSDT"),
            single("NADAUSDT"),
        ]
    );

    // One unknown pair asked alone: its -1121 already says it; no second request.
    let server = answering(json_body(400, INVALID_SYMBOL)).await;
    let rows = client(&server.uri())
        .await
        .tickers_24h(&pairs_of(&["NOPEUSDT"]))
        .await
        .unwrap();
    assert!(rows.is_empty(), "{rows:?}");
    assert_eq!(sent(&server).await, [batch(&["NOPEUSDT"])]);
}

#[tokio::test]
async fn a_pair_by_pair_retry_that_fails_otherwise_fails_the_call_never_partial_data() {
    let server = MockServer::start().await;
    Mock::given(path(TICKER))
        .and(query_param(
            "symbols",
            r#"["BTCUSDT","NOPEUSDT","ETHUSDT"]"#,
        ))
        .respond_with(json_body(400, INVALID_SYMBOL))
        .mount(&server)
        .await;
    Mock::given(path(TICKER))
        .and(query_param("symbol", "BTCUSDT"))
        .respond_with(json_body(200, BTC_ROW))
        .mount(&server)
        .await;
    Mock::given(path(TICKER))
        .and(query_param("symbol", "NOPEUSDT"))
        .respond_with(json_body(503, "<html>Service Unavailable</html>"))
        .mount(&server)
        .await;

    let error = client(&server.uri())
        .await
        .tickers_24h(&pairs_of(&["BTCUSDT", "NOPEUSDT", "ETHUSDT"]))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, BinanceError::Unavailable { status: 503, message } if message == "<html>Service Unavailable</html>"),
        "{error:?}"
    );
    assert_eq!(
        sent(&server).await,
        [
            batch(&["BTCUSDT", "NOPEUSDT", "ETHUSDT"]),
            single("BTCUSDT"),
            single("NOPEUSDT"),
        ],
        "the pairs after the failure are not asked"
    );
}

// ---- Failures ----

#[tokio::test]
async fn other_4xx_are_rejections_with_binances_code_and_message_sent_once() {
    for (status, body, code, message) in [
        (
            400,
            r#"{"code":-1100,"msg":"Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'."}"#,
            -1100,
            r#"Illegal characters found in parameter 'symbols'; legal range is '^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$'."#,
        ),
        (
            451,
            r#"{"code":0,"msg":"Service unavailable from a restricted location according to 'b. Eligibility' in https://www.binance.com/en/terms."}"#,
            0,
            "Service unavailable from a restricted location according to 'b. Eligibility' in https://www.binance.com/en/terms.",
        ),
        // The WAF's refusal is no Binance JSON: no code, the body's start as the message.
        (
            403,
            "<html><h1>403 Forbidden</h1></html>",
            0,
            "<html><h1>403 Forbidden</h1></html>",
        ),
    ] {
        let server = answering(json_body(status, body)).await;
        for (call, error) in every_call_fails_with(&server.uri()).await {
            match &error {
                BinanceError::Rejected {
                    status: got,
                    code: got_code,
                    message: got_message,
                } => {
                    assert_eq!((*got, *got_code), (status, code), "{call}");
                    assert_eq!(got_message, message, "{call}");
                }
                other => panic!("{status} {call}: {other:?}"),
            }
            assert!(!error.is_invalid_symbol(), "{status} {call}");
        }
        assert_eq!(
            requests(&server).await.len(),
            3,
            "{status}: one request a call, no pair-by-pair retry"
        );
    }
}

#[tokio::test]
async fn a_429_or_a_418_ban_throttles_every_call_for_its_retry_after_after_one_request() {
    for (status, body, seconds) in [(429, TOO_MUCH_WEIGHT, 120), (418, BANNED, 7_200)] {
        let server = answering(
            json_body(status, body).insert_header("retry-after", seconds.to_string().as_str()),
        )
        .await;

        // The answer pushes Binance's shared limiter back; no permit comes within the longest
        // wait, so each call is handed back throttled for what is left of it.
        for (call, error) in every_call_fails_with(&server.uri()).await {
            let retry_after = match &error {
                BinanceError::Gate(GateError::Throttled { retry_after, .. }) => *retry_after,
                other => panic!("{status} {call}: {other:?}"),
            };
            assert!(
                retry_after > Duration::from_secs(seconds - 1)
                    && retry_after <= Duration::from_secs(seconds),
                "{status} {call}: {retry_after:?}"
            );
        }
        assert_eq!(
            requests(&server).await.len(),
            1,
            "{status}: one answer, then nobody asks"
        );
    }
}

#[tokio::test]
async fn a_429_or_418_without_retry_after_still_throttles_a_minute() {
    for status in [429, 418] {
        let server = answering(json_body(status, TOO_MUCH_WEIGHT)).await;
        let error = client(&server.uri()).await.ping().await.unwrap_err();
        let wait = match &error {
            BinanceError::Gate(GateError::Throttled { retry_after, .. }) => *retry_after,
            other => panic!("{status}: {other:?}"),
        };
        assert!(
            wait > Duration::from_secs(59) && wait <= Duration::from_secs(60),
            "{status}: {wait:?}"
        );
        assert_eq!(requests(&server).await.len(), 1, "{status}");
    }
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_and_after_three_throttles_is_rate_limited() {
    let server = answering(json_body(429, TOO_MUCH_WEIGHT).insert_header("retry-after", "1")).await;

    let error = client(&server.uri()).await.ping().await.unwrap_err();

    assert!(
        matches!(
            error,
            BinanceError::RateLimited {
                status: 429,
                retry_after: Some(d)
            } if d == Duration::from_secs(1)
        ),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn server_errors_are_unavailable_with_their_status_and_body() {
    let long_page = format!("<html>{}</html>", "x".repeat(300));
    for (status, body, message) in [
        (
            500,
            r#"{"code":-1000,"msg":"An unknown error occurred while processing the request."}"#,
            r#"{"code":-1000,"msg":"An unknown error occurred while processing the request."}"#,
        ),
        (502, "<html>Bad gateway</html>", "<html>Bad gateway</html>"),
        (503, "", ""),
        // An error page is cut to its first 200 characters.
        (504, long_page.as_str(), &long_page[..200]),
    ] {
        let server = answering(json_body(status, body)).await;
        for (call, error) in every_call_fails_with(&server.uri()).await {
            match &error {
                BinanceError::Unavailable {
                    status: got,
                    message: got_message,
                } => {
                    assert_eq!(*got, status, "{call}");
                    assert_eq!(got_message, message, "{call}");
                }
                other => panic!("{status} {call}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_server_error_is_retried_in_the_job_and_a_rejection_is_not() {
    let server = failing_then(
        TICKER,
        json_body(502, "<html>Bad gateway</html>"),
        1,
        json_body(200, &format!("[{BTC_ROW}]")),
    )
    .await;
    let rows = build(settings(&server.uri()), 1)
        .await
        .tickers_24h(&pairs_of(&["BTCUSDT"]))
        .await
        .unwrap();
    assert_eq!(pairs_in(&rows), ["BTCUSDT"]);
    assert_eq!(
        sent(&server).await,
        [batch(&["BTCUSDT"]), batch(&["BTCUSDT"])]
    );

    let server = answering(json_body(
        400,
        r#"{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}"#,
    ))
    .await;
    let error = build(settings(&server.uri()), 1)
        .await
        .ping()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            BinanceError::Rejected {
                status: 400,
                code: -1102,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_host_is_a_transport_error() {
    for (call, error) in every_call_fails_with(&refusing_url()).await {
        match &error {
            BinanceError::Gate(GateError::Transport { source, .. }) => {
                assert!(source.is_connect(), "{call}: {source:?}")
            }
            other => panic!("{call}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_transport_error() {
    let server =
        answering(json_body(200, &format!("[{BTC_ROW}]")).set_delay(Duration::from_secs(30))).await;
    let binance = build(
        BinanceSettings {
            timeout_ms: 200,
            ..settings(&server.uri())
        },
        0,
    )
    .await;

    let error = binance
        .tickers_24h(&pairs_of(&["BTCUSDT"]))
        .await
        .unwrap_err();

    match &error {
        BinanceError::Gate(GateError::Transport { source, .. }) => {
            assert!(source.is_timeout(), "{source:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_200_that_is_not_binances_answer_is_an_error_never_data() {
    for body in [
        "<html><head><title>Just a moment...</title></head></html>",
        "",
        "null",
        "{}",
        &format!("[{BTC_ROW}"),
        // Binance's error shape, at 200, is no row.
        INVALID_SYMBOL,
        r#"[{"symbol":"BTCUSDT","lastPrice":95176.59}]"#,
        r#"[{"symbol":"BTCUSDT","lastPrice":"lots"}]"#,
        r#"[{"symbol":"BTCUSDT","priceChangePercent":"-1.250"}]"#,
        r#"[{"symbol":"BTCUSDT","lastPrice":"95176.59","quoteVolume":"1e400"}]"#,
        r#"[{"symbol":"BTCUSDT","lastPrice":"95176.59","closeTime":"1700086400000"}]"#,
    ] {
        let server = answering(json_body(200, body)).await;
        let result = client(&server.uri())
            .await
            .tickers_24h(&pairs_of(&["BTCUSDT"]))
            .await;
        assert!(
            matches!(result, Err(BinanceError::Unavailable { status: 200, .. })),
            "{body}: {result:?}"
        );
    }
}
