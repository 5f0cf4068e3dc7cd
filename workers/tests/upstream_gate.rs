//! The gate every upstream request passes (`coinbeat_workers::upstream`), through a real client
//! against wiremock and a private Redis: transient failures are retried with backoff, every try
//! takes a permit, repeated failures open the shared breaker (then nothing is sent until the
//! probe interval passes, and a successful probe closes it), and Binance's requests weigh what
//! Binance counts.

#[path = "common/gated.rs"]
mod gated;
#[path = "common/upstream.rs"]
mod upstream;

use coinbeat_shared::{
    breaker::{BreakerState, read_breaker},
    ratelimit::{Provider, read_snapshot},
};
use coinbeat_workers::{
    binance::Binance,
    coingecko::{CoinGecko, CoinGeckoError},
    upstream::GateError,
};
use gated::gated;
use upstream::{answering_at, failing_then, requests};
use wiremock::ResponseTemplate;

#[tokio::test]
async fn a_transient_failure_is_retried_and_every_try_takes_a_permit() {
    let server = failing_then(
        "/ping",
        ResponseTemplate::new(503),
        2,
        ResponseTemplate::new(200).set_body_string("{}"),
    )
    .await;
    let uri = server.uri();
    let coingecko = gated(
        |s| {
            s.providers.coingecko.base_url = uri;
            s.upstream.retries = 2;
            s.upstream.retry_base_ms = 10;
        },
        |env| CoinGecko::new(env).unwrap(),
    )
    .await;

    coingecko.ping().await.unwrap();

    assert_eq!(requests(&server).await.len(), 3);
    let env = &coingecko.env;
    let id = env.settings.providers.limiter_id(Provider::CoinGecko);
    let limiter = read_snapshot(&env.conn, &env.keys, &id).await.unwrap();
    assert_eq!(limiter.metrics.permits, 3, "retries take permits too");
    let breaker = read_breaker(&env.conn, &env.keys, Provider::CoinGecko)
        .await
        .unwrap();
    assert_eq!(breaker.failures, 0, "the success reset the count");
}

#[tokio::test]
async fn repeated_failures_open_the_breaker_and_a_successful_probe_closes_it() {
    let server = failing_then(
        "/ping",
        ResponseTemplate::new(502),
        4,
        ResponseTemplate::new(200).set_body_string("{}"),
    )
    .await;
    let uri = server.uri();
    let coingecko = gated(
        |s| {
            s.providers.coingecko.base_url = uri;
            s.upstream.retries = 1;
            s.upstream.retry_base_ms = 10;
            s.upstream.breaker_failures = 4;
            s.upstream.breaker_probe_ms = 300;
        },
        |env| CoinGecko::new(env).unwrap(),
    )
    .await;
    let env = &coingecko.env;

    // Two calls of two tries each: four failures in a row open it.
    for _ in 0..2 {
        let error = coingecko.ping().await.unwrap_err();
        assert!(
            matches!(error, CoinGeckoError::Unavailable { status: 502, .. }),
            "{error:?}"
        );
    }
    let breaker = read_breaker(&env.conn, &env.keys, Provider::CoinGecko)
        .await
        .unwrap();
    assert_eq!((breaker.state, breaker.opens), (BreakerState::Open, 1));

    // Open: the next call is refused at once, and nothing reaches CoinGecko.
    let error = coingecko.ping().await.unwrap_err();
    assert!(
        matches!(error, CoinGeckoError::Gate(GateError::CircuitOpen { .. })),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 4);

    // After the probe interval one call goes through as the probe, succeeds, and closes it.
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    coingecko.ping().await.unwrap();
    let breaker = read_breaker(&env.conn, &env.keys, Provider::CoinGecko)
        .await
        .unwrap();
    assert_eq!((breaker.state, breaker.closes), (BreakerState::Closed, 1));
    assert_eq!(requests(&server).await.len(), 5);
}

#[tokio::test]
async fn binance_requests_weigh_what_binance_counts() {
    let server = answering_at(
        "/api/v3/ticker/24hr",
        ResponseTemplate::new(200).set_body_string("[]"),
    )
    .await;
    let uri = server.uri();
    let binance = gated(
        |s| s.providers.binance.base_url = uri,
        |env| Binance::new(env).unwrap(),
    )
    .await;
    let pairs = |n: usize| (0..n).map(|i| format!("C{i}USDT")).collect::<Vec<_>>();

    binance.tickers_24h(&pairs(5)).await.unwrap();
    binance.tickers_24h(&pairs(25)).await.unwrap();
    binance.tickers_24h(&pairs(150)).await.unwrap();

    let env = &binance.env;
    let id = env.settings.providers.limiter_id(Provider::Binance);
    let limiter = read_snapshot(&env.conn, &env.keys, &id).await.unwrap();
    assert_eq!(limiter.metrics.acquired, 3);
    assert_eq!(
        limiter.metrics.permits,
        2 + 40 + 80,
        "Binance's documented weights"
    );
}
