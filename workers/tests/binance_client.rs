//! The Binance spot client against wiremock: the request `/ticker/24hr` gets (`symbols` as a
//! JSON array, or one `symbol` when retrying pair by pair), Binance's strings read as exact
//! decimals, the "Invalid symbol." (-1121) answer that fails a whole multi-symbol request, and
//! each error class: 429 and 418 throttle for their `Retry-After` (one request, then nobody
//! asks), other 4xx are rejections with Binance's code, 5xx and an unreachable host are
//! transient, a 200 that is not Binance's answer is an error, never data.

#[path = "common/gated.rs"]
mod gated;
#[path = "common/upstream.rs"]
mod upstream;

use std::time::Duration;

use coinbeat_workers::{
    binance::{Binance, BinanceError},
    upstream::GateError,
};
use gated::{Gated, gated};
use upstream::*;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

/// A client of `base_url`, limit off and no in-job retries (the gate has its own suite).
async fn client(base_url: &str) -> Gated<Binance> {
    let base_url = base_url.to_owned();
    gated(
        |s| {
            s.providers.binance.base_url = base_url;
            s.providers.binance.rate_limit = "off".into();
            s.upstream.retries = 0;
        },
        |env| Binance::new(env).unwrap(),
    )
    .await
}

fn pairs_of(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

const BTC_ROW: &str = r#"{"symbol":"BTCUSDT","priceChange":"-1205.12000000","priceChangePercent":"-1.250","weightedAvgPrice":"95840.11","lastPrice":"95176.59000000","quoteVolume":"1189707.37500000","openTime":1699999999999,"closeTime":1700086400000,"count":1}"#;
const ETH_ROW: &str = r#"{"symbol":"ETHUSDT","priceChangePercent":"0.000","lastPrice":"0.00001234","quoteVolume":"0.00000000","closeTime":1700086400001}"#;

#[tokio::test]
async fn several_pairs_are_one_request_with_a_json_array_and_every_string_is_exact() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ticker/24hr"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!("[{BTC_ROW},{ETH_ROW}]")))
        .expect(1)
        .mount(&server)
        .await;

    let rows = client(&server.uri())
        .await
        .tickers_24h(&pairs_of(&["BTCUSDT", "ETHUSDT"]))
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(
        query(&sent[0]),
        pairs(&[("symbols", r#"["BTCUSDT","ETHUSDT"]"#)])
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].pair, "BTCUSDT");
    assert_exact(Some(rows[0].last_price), "95176.59000000");
    assert_exact(rows[0].price_change_percent, "-1.250");
    assert_exact(rows[0].quote_volume, "1189707.37500000");
    assert_eq!(rows[0].close_time_ms, Some(1_700_086_400_000));
    assert_exact(Some(rows[1].last_price), "0.00001234");
    assert_exact(rows[1].price_change_percent, "0.000");
}

#[tokio::test]
async fn an_invalid_symbol_fails_the_batch_so_pairs_are_asked_one_by_one_and_the_unknown_left_out()
{
    let server = MockServer::start().await;
    let invalid =
        ResponseTemplate::new(400).set_body_string(r#"{"code":-1121,"msg":"Invalid symbol."}"#);
    Mock::given(path("/api/v3/ticker/24hr"))
        .and(query_param("symbols", r#"["BTCUSDT","NOPEUSDT"]"#))
        .respond_with(invalid.clone())
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/ticker/24hr"))
        .and(query_param("symbol", "BTCUSDT"))
        .respond_with(ResponseTemplate::new(200).set_body_string(BTC_ROW))
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/ticker/24hr"))
        .and(query_param("symbol", "NOPEUSDT"))
        .respond_with(invalid)
        .mount(&server)
        .await;

    let rows = client(&server.uri())
        .await
        .tickers_24h(&pairs_of(&["BTCUSDT", "NOPEUSDT"]))
        .await
        .unwrap();

    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].pair, "BTCUSDT");
    let sent: Vec<_> = requests(&server).await.iter().map(query).collect();
    assert_eq!(
        sent,
        [
            pairs(&[("symbols", r#"["BTCUSDT","NOPEUSDT"]"#)]),
            pairs(&[("symbol", "BTCUSDT")]),
            pairs(&[("symbol", "NOPEUSDT")]),
        ]
    );
}

#[tokio::test]
async fn other_4xx_are_rejections_with_binances_code_and_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            r#"{"code":-1100,"msg":"Illegal characters found in parameter 'symbols'."}"#,
        ))
        .mount(&server)
        .await;
    let error = client(&server.uri())
        .await
        .tickers_24h(&pairs_of(&["BTCUSDT"]))
        .await
        .unwrap_err();
    match error {
        BinanceError::Rejected {
            status,
            code,
            message,
        } => {
            assert_eq!((status, code), (400, -1100));
            assert_eq!(message, "Illegal characters found in parameter 'symbols'.");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_429_or_a_418_ban_holds_every_caller_back_for_its_retry_after() {
    for status in [429, 418] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status).insert_header("retry-after", "120"))
            .mount(&server)
            .await;
        let binance = client(&server.uri()).await;
        let error = binance.ping().await.unwrap_err();
        let retry_after = match error {
            BinanceError::Gate(GateError::Throttled { retry_after, .. }) => retry_after,
            other => panic!("{status}: {other:?}"),
        };
        assert!(
            retry_after > Duration::from_secs(119) && retry_after <= Duration::from_secs(120),
            "{status}: {retry_after:?}"
        );
        // The push-back is shared: the next call sends nothing either.
        assert!(binance.ping().await.is_err());
        assert_eq!(requests(&server).await.len(), 1, "{status}");
    }
}

#[tokio::test]
async fn server_errors_unreachable_hosts_and_bodies_that_are_not_binances_are_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let error = client(&server.uri()).await.ping().await.unwrap_err();
    assert!(
        matches!(error, BinanceError::Unavailable { status: 503, .. }),
        "{error:?}"
    );

    let error = client(&refusing_url()).await.ping().await.unwrap_err();
    assert!(
        matches!(error, BinanceError::Gate(GateError::Transport { .. })),
        "{error:?}"
    );

    for body in [
        "<html>Just a moment...</html>",
        "{}",
        r#"[{"symbol":"BTCUSDT","lastPrice":95176.59}]"#,
        r#"[{"symbol":"BTCUSDT","lastPrice":"lots"}]"#,
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
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
