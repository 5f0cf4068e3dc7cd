//! The CoinLore client against wiremock: the `/tickers/` request (`start`, `limit` clamped to
//! a page of 100), CoinLore's mixed types (ids and prices as strings, rank and 24 h volume as
//! numbers, `msupply` empty when uncapped) read as exact decimals, and the errors: a 429
//! throttles every caller, 5xx and an unreachable host are transient, a 200 that is not
//! CoinLore's answer is an error, never data.

#[path = "common/gated.rs"]
mod gated;
#[path = "common/upstream.rs"]
mod upstream;

use std::time::Duration;

use coinbeat_workers::{
    coinlore::{CoinLore, CoinLoreError},
    upstream::GateError,
};
use gated::{Gated, gated};
use upstream::*;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

async fn client(base_url: &str) -> Gated<CoinLore> {
    let base_url = base_url.to_owned();
    gated(
        |s| {
            s.providers.coinlore.base_url = base_url;
            s.providers.coinlore.rate_limit = "off".into();
            s.upstream.retries = 0;
        },
        |env| CoinLore::new(env).unwrap(),
    )
    .await
}

/// Two rows as CoinLore writes them (a 2026 capture's shape).
const TICKERS: &str = r#"{"data":[
 {"id":"90","symbol":"BTC","name":"Bitcoin","nameid":"bitcoin","rank":1,"price_usd":"91492.61","percent_change_24h":"0.95","percent_change_1h":"-0.29","percent_change_7d":"6.40","price_btc":"1.00","market_cap_usd":"1825236061954.00","volume24":39551743260.857254,"volume24a":44763507730.31366,"csupply":"19949546.00","tsupply":"19949546","msupply":"21000000"},
 {"id":"80","symbol":"ETH","name":"Ethereum","nameid":"ethereum","rank":2,"price_usd":"3012.0512","percent_change_24h":"-1.20","percent_change_1h":"0.10","percent_change_7d":"2.00","price_btc":"0.032921","market_cap_usd":"363462214511.46","volume24":18237412345.12,"volume24a":19000000000.5,"csupply":"120671253.00","tsupply":"120671253","msupply":""}],
 "info":{"coins_num":14993,"time":1788363842}}"#;

#[tokio::test]
async fn tickers_asks_start_and_a_clamped_limit_and_reads_every_figure_exactly() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(TICKERS))
        .mount(&server)
        .await;
    let coinlore = client(&server.uri()).await;

    let page = coinlore.tickers(100, 500).await.unwrap();

    let (path, query) = path_and_query(&requests(&server).await[0]);
    assert_eq!(path, "/tickers/");
    assert_eq!(query, pairs(&[("start", "100"), ("limit", "100")]));
    assert_eq!(page.time.map(|t| t.timestamp()), Some(1_788_363_842));
    let btc = &page.rows[0];
    assert_eq!((btc.symbol.as_str(), btc.rank), ("BTC", Some(1)));
    assert_exact(btc.price_usd, "91492.61");
    assert_exact(btc.market_cap_usd, "1825236061954.00");
    assert_exact(btc.circulating_supply, "19949546.00");
    assert_exact(btc.total_supply, "19949546");
    assert_exact(btc.max_supply, "21000000");
    assert_exact(btc.volume_24h_usd, "39551743260.857254");
    assert_exact(btc.change_24h_pct, "0.95");
    let eth = &page.rows[1];
    assert_exact(eth.price_usd, "3012.0512");
    assert_eq!(
        eth.max_supply, None,
        "an empty msupply is uncapped, not zero"
    );
}

#[tokio::test]
async fn ping_asks_for_one_ticker() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(TICKERS))
        .expect(1)
        .mount(&server)
        .await;
    client(&server.uri()).await.ping().await.unwrap();
    let (_, query) = path_and_query(&requests(&server).await[0]);
    assert_eq!(query, pairs(&[("start", "0"), ("limit", "1")]));
}

#[tokio::test]
async fn a_429_throttles_every_caller_and_errors_are_never_data() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "90"))
        .mount(&server)
        .await;
    let coinlore = client(&server.uri()).await;
    match coinlore.ping().await.unwrap_err() {
        CoinLoreError::Gate(GateError::Throttled { retry_after, .. }) => {
            assert!(retry_after > Duration::from_secs(89) && retry_after <= Duration::from_secs(90))
        }
        other => panic!("{other:?}"),
    }
    assert!(coinlore.ping().await.is_err());
    assert_eq!(
        requests(&server).await.len(),
        1,
        "nobody asks during the push-back"
    );

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&server)
        .await;
    let error = client(&server.uri()).await.ping().await.unwrap_err();
    assert!(
        matches!(error, CoinLoreError::Unavailable { status: 502, .. }),
        "{error:?}"
    );

    let error = client(&refusing_url()).await.ping().await.unwrap_err();
    assert!(
        matches!(error, CoinLoreError::Gate(GateError::Transport { .. })),
        "{error:?}"
    );

    for body in [
        "<html>Just a moment...</html>",
        "[]",
        r#"{"data":[{"symbol":"BTC","name":"Bitcoin","nameid":"bitcoin","price_usd":"lots"}]}"#,
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
        let result = client(&server.uri()).await.tickers(0, 10).await;
        assert!(
            matches!(result, Err(CoinLoreError::Unavailable { status: 200, .. })),
            "{body}: {result:?}"
        );
    }
}
