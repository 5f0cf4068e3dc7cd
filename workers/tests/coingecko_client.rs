//! The CoinGecko v3 client against wiremock: the request each call sends (path, query, the
//! plan's key header or none), the answers it reads in CoinGecko's wire format (JSON numbers,
//! exponent notation and `null`s, every digit kept as an exact decimal), and each failure
//! classified for retries: a 429 throttles for its `retry-after`, 5xx and an unreachable or slow
//! host are transient, 401/403/404/other 4xx are permanent, and a 200 that is not CoinGecko's
//! answer is a transient error, never data. A redirect is not followed (the key header would
//! go with it) and a body over `upstream.max_body_bytes` is not read past the cap: both are
//! permanent.

#[path = "common/gated.rs"]
mod gated;
#[path = "common/upstream.rs"]
mod upstream;

use std::time::Duration;

use coinbeat_shared::{
    domain::CoinId,
    queue::JobError,
    settings::{CoinGeckoPlan, CoinGeckoSettings, Secret},
};
use coinbeat_workers::{
    coingecko::{CoinGecko, CoinGeckoError},
    upstream::GateError,
};
use gated::{Gated, gated};
use upstream::*;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

const KEY: &str = "CG-testkey123";
const DEMO_HEADER: &str = "x-cg-demo-api-key";
const PRO_HEADER: &str = "x-cg-pro-api-key";

/// CoinGecko's own 429 body (a 2022 capture; it came with `retry-after: 119`).
const RATE_LIMIT_BODY: &str = r#"{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits."}}"#;

fn settings(base_url: &str, plan: CoinGeckoPlan, key: Option<&str>) -> CoinGeckoSettings {
    CoinGeckoSettings {
        base_url: base_url.to_owned(),
        api_key: key.map(Secret::new),
        plan,
        timeout_ms: 5_000,
        ..CoinGeckoSettings::default()
    }
}

/// The client `coingecko` describes, on a private Redis (its limiter and breaker live there),
/// with the limit off and no in-job retries: this suite is about the wire and the error
/// classes, not the gate (`upstream_gate.rs` is).
async fn build(coingecko: CoinGeckoSettings) -> Gated<Result<CoinGecko, CoinGeckoError>> {
    gated(
        |s| {
            s.providers.coingecko = CoinGeckoSettings {
                rate_limit: "off".into(),
                ..coingecko
            };
            s.upstream.retries = 0;
        },
        CoinGecko::new,
    )
    .await
}

/// A Demo-plan client with [`KEY`].
async fn client(base_url: &str) -> Gated<CoinGecko> {
    let built = build(settings(base_url, CoinGeckoPlan::Demo, Some(KEY))).await;
    Gated {
        client: built.client.unwrap(),
        env: built.env,
        redis: built.redis,
    }
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn coin_id(id: &str) -> CoinId {
    CoinId::parse(id).unwrap()
}

/// Every client call against `base_url`, each with the error it must fail with.
async fn every_call_fails_with(base_url: &str) -> Vec<(&'static str, CoinGeckoError)> {
    let coingecko = client(base_url).await;
    vec![
        (
            "simple_prices",
            coingecko
                .simple_prices(&ids(&["bitcoin"]))
                .await
                .unwrap_err(),
        ),
        ("markets", coingecko.markets(1, 100).await.unwrap_err()),
        ("global", coingecko.global().await.unwrap_err()),
        (
            "coin",
            coingecko.coin(&coin_id("bitcoin")).await.unwrap_err(),
        ),
        ("ping", coingecko.ping().await.unwrap_err()),
    ]
}

// ---- Requests ----

#[tokio::test]
async fn simple_prices_asks_usd_with_every_figure_at_full_precision_under_the_demo_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/simple/price"))
        .and(query_param("ids", "bitcoin,ethereum,pepe"))
        .and(header(DEMO_HEADER, KEY))
        .respond_with(json_body(200, "{}"))
        .expect(1)
        .mount(&server)
        .await;

    client(&server.uri())
        .await
        .simple_prices(&ids(&["bitcoin", "ethereum", "pepe"]))
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(
        path_and_query(&sent[0]),
        (
            "/simple/price".to_owned(),
            pairs(&[
                ("ids", "bitcoin,ethereum,pepe"),
                ("vs_currencies", "usd"),
                ("include_market_cap", "true"),
                ("include_24hr_vol", "true"),
                ("include_24hr_change", "true"),
                ("include_last_updated_at", "true"),
                ("precision", "full"),
            ])
        )
    );
    assert_eq!(sent[0].headers.get(DEMO_HEADER).unwrap(), KEY);
    assert!(sent[0].headers.get(PRO_HEADER).is_none());
}

#[tokio::test]
async fn the_pro_plan_sends_its_key_in_the_pro_header_and_never_in_the_query() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .and(header(PRO_HEADER, KEY))
        .respond_with(json_body(200, r#"{"gecko_says":"(V3) To the Moon!"}"#))
        .expect(1)
        .mount(&server)
        .await;

    build(settings(&server.uri(), CoinGeckoPlan::Pro, Some(KEY)))
        .await
        .as_ref()
        .unwrap()
        .ping()
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert!(sent[0].headers.get(DEMO_HEADER).is_none());
    assert_eq!(sent[0].url.query(), None, "{}", sent[0].url);
}

#[tokio::test]
async fn without_a_key_or_with_a_blank_one_no_key_header_is_sent() {
    for key in [None, Some(""), Some("   ")] {
        for plan in [CoinGeckoPlan::Demo, CoinGeckoPlan::Pro] {
            let server = answering(json_body(200, "{}")).await;
            build(settings(&server.uri(), plan, key))
                .await
                .as_ref()
                .unwrap()
                .simple_prices(&ids(&["bitcoin"]))
                .await
                .unwrap();
            let sent = requests(&server).await;
            assert_eq!(sent.len(), 1);
            for name in [DEMO_HEADER, PRO_HEADER] {
                assert!(
                    sent[0].headers.get(name).is_none(),
                    "{key:?} {plan:?}: {name} was sent"
                );
            }
            assert!(!sent[0].url.as_str().contains("api_key"), "{}", sent[0].url);
        }
    }
}

#[tokio::test]
async fn a_key_a_header_cannot_carry_is_a_permanent_configuration_error() {
    let error = build(settings(
        "http://127.0.0.1:1",
        CoinGeckoPlan::Demo,
        Some("CG-abc\nx-injected: 1"),
    ))
    .await
    .client
    .unwrap_err();
    assert!(matches!(error, CoinGeckoError::Config(_)), "{error:?}");
    assert!(!error.to_string().contains("CG-abc"), "{error}");
    assert!(JobError::from(error).is_permanent());
}

#[tokio::test]
async fn the_client_never_shows_its_key() {
    let coingecko = client("http://127.0.0.1:1").await;
    let shown = format!("{:?}", coingecko.client);
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn markets_asks_one_page_in_usd_by_market_cap_with_full_precision_and_clamps_its_bounds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/coins/markets"))
        .and(header(DEMO_HEADER, KEY))
        .respond_with(json_body(200, "[]"))
        .expect(3)
        .mount(&server)
        .await;
    let coingecko = client(&server.uri()).await;

    assert!(coingecko.markets(3, 100).await.unwrap().is_empty());
    coingecko.markets(0, 1_000).await.unwrap();
    coingecko.markets(1, 0).await.unwrap();

    let page = |page: &str, per_page: &str| {
        (
            "/coins/markets".to_owned(),
            pairs(&[
                ("vs_currency", "usd"),
                ("order", "market_cap_desc"),
                ("per_page", per_page),
                ("page", page),
                ("sparkline", "false"),
                ("precision", "full"),
            ]),
        )
    };
    let sent: Vec<_> = requests(&server).await.iter().map(path_and_query).collect();
    assert_eq!(
        sent,
        [page("3", "100"), page("1", "250"), page("1", "1")],
        "page 0 is page 1; per_page is held to 1..=250"
    );
}

#[tokio::test]
async fn coin_asks_for_market_data_only_and_global_asks_with_no_query() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/coins/usd-coin"))
        .respond_with(json_body(
            200,
            r#"{"id":"usd-coin","symbol":"usdc","name":"USDC","market_data":{}}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/global"))
        .respond_with(json_body(200, r#"{"data":{}}"#))
        .expect(1)
        .mount(&server)
        .await;
    let coingecko = client(&server.uri()).await;

    coingecko.coin(&coin_id("usd-coin")).await.unwrap();
    coingecko.global().await.unwrap();

    let sent = requests(&server).await;
    assert_eq!(
        path_and_query(&sent[0]),
        (
            "/coins/usd-coin".to_owned(),
            pairs(&[
                ("localization", "false"),
                ("tickers", "false"),
                ("market_data", "true"),
                ("community_data", "false"),
                ("developer_data", "false"),
                ("sparkline", "false"),
            ])
        )
    );
    assert_eq!(sent[1].url.path(), "/global");
    assert_eq!(sent[1].url.query(), None);
    assert!(
        sent.iter()
            .all(|r| r.headers.get(DEMO_HEADER).is_some_and(|v| v == KEY))
    );
}

#[tokio::test]
async fn ping_is_get_ping_and_succeeds_on_any_2xx() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(json_body(200, r#"{"gecko_says":"(V3) To the Moon!"}"#))
        .expect(1)
        .mount(&server)
        .await;
    client(&server.uri()).await.ping().await.unwrap();
    assert_eq!(requests(&server).await[0].url.query(), None);
}

// ---- Answers ----

#[tokio::test]
async fn simple_prices_keep_every_digit_sent_and_sub_cent_prices_stay_exact() {
    // Numbers as CoinGecko writes them: long fractions (more digits than an f64 holds),
    // sub-cent prices plain and in exponent notation, a large market cap in exponent
    // notation, a stale coin's `null` change. `not-a-coin` was asked for and is absent.
    let server = answering(json_body(
        200,
        r#"{"bitcoin":{"usd":67187.33589365661234,"usd_market_cap":1317802988326.25,
            "usd_24h_vol":31260929299.5248,"usd_24h_change":-3.63727894677354,
            "last_updated_at":1711356300},
           "pepe":{"usd":0.00000982,"usd_market_cap":4131000000,"usd_24h_vol":0.0,
            "usd_24h_change":null,"last_updated_at":1711356299},
           "shiba-inu":{"usd":4.87e-06,"usd_market_cap":2.70016521312815e+15},
           "no-price-yet":{}}"#,
    ))
    .await;

    let prices = client(&server.uri())
        .await
        .simple_prices(&ids(&[
            "bitcoin",
            "pepe",
            "shiba-inu",
            "no-price-yet",
            "not-a-coin",
        ]))
        .await
        .unwrap();

    let mut answered: Vec<_> = prices.keys().map(String::as_str).collect();
    answered.sort_unstable();
    assert_eq!(
        answered,
        ["bitcoin", "pepe", "shiba-inu"],
        "unknown ids and coins without a usd price are absent"
    );

    let btc = &prices["bitcoin"];
    assert_exact(Some(btc.usd), "67187.33589365661234");
    assert_exact(btc.usd_market_cap, "1317802988326.25");
    assert_exact(btc.usd_24h_vol, "31260929299.5248");
    assert_exact(btc.usd_24h_change, "-3.63727894677354");
    assert_eq!(btc.last_updated_at.unwrap().timestamp(), 1_711_356_300);

    let pepe = &prices["pepe"];
    assert_exact(Some(pepe.usd), "0.00000982");
    assert_exact(pepe.usd_market_cap, "4131000000");
    assert_exact(pepe.usd_24h_vol, "0.0");
    assert_eq!(pepe.usd_24h_change, None, "a null change is absent");
    assert_eq!(pepe.last_updated_at.unwrap().timestamp(), 1_711_356_299);

    let shib = &prices["shiba-inu"];
    assert_exact(Some(shib.usd), "0.00000487");
    assert_exact(shib.usd_market_cap, "2700165213128150");
    assert_eq!(shib.usd_24h_vol, None);
    assert_eq!(shib.usd_24h_change, None);
    assert_eq!(shib.last_updated_at, None);
}

#[tokio::test]
async fn only_unknown_ids_answer_an_empty_object_which_is_no_prices_not_an_error() {
    let server = answering(json_body(200, "{}")).await;
    let prices = client(&server.uri())
        .await
        .simple_prices(&ids(&["not-a-coin", "nor-this"]))
        .await
        .unwrap();
    assert!(prices.is_empty(), "{prices:?}");
}

#[tokio::test]
async fn market_rows_are_read_from_the_wire_format_in_order_with_nulls_absent() {
    // Bitcoin: the documented row, every field. Ethereum: uncapped (`max_supply: null`), a
    // price with more digits than an f64 holds. The third: a fresh listing with `null`s.
    let server = answering(json_body(
        200,
        r#"[{"id":"bitcoin","symbol":"btc","name":"Bitcoin",
            "image":"https://assets.coingecko.com/coins/images/1/large/bitcoin.png?1696501400",
            "current_price":70187,"market_cap":1381651251183,"market_cap_rank":1,
            "fully_diluted_valuation":1474623675796,"total_volume":20154184933,
            "high_24h":70215,"low_24h":68060,"price_change_24h":2126.88,
            "price_change_percentage_24h":3.12502,"market_cap_change_24h":44287678051,
            "market_cap_change_percentage_24h":3.31157,"circulating_supply":19675987,
            "total_supply":21000000,"max_supply":21000000,"ath":73738,
            "ath_change_percentage":-4.77063,"ath_date":"2024-03-14T07:10:36.635Z",
            "atl":67.81,"atl_change_percentage":103455.83335,
            "atl_date":"2013-07-06T00:00:00.000Z","roi":null,
            "last_updated":"2024-04-07T16:49:31.736Z"},
           {"id":"ethereum","symbol":"eth","name":"Ethereum","current_price":3500.123456789012345678,
            "market_cap":420000000000.5,"market_cap_rank":2,"total_volume":1.2e+10,
            "price_change_percentage_24h":-0.00042,"circulating_supply":120278935.0123,
            "total_supply":120278935.0123,"max_supply":null,
            "roi":{"times":98.93,"currency":"btc","percentage":9893.15},
            "last_updated":"2024-04-07T16:49:30.000Z"},
           {"id":"fresh-coin","symbol":"new","name":"Fresh","current_price":0.000000123456789012345678,
            "market_cap":null,"market_cap_rank":null,"total_volume":null,
            "price_change_percentage_24h":null,"circulating_supply":null,
            "total_supply":null,"max_supply":null,"last_updated":null}]"#,
    ))
    .await;

    let rows = client(&server.uri()).await.markets(1, 3).await.unwrap();

    let order: Vec<_> = rows.iter().map(|r| r.coin_id.as_str()).collect();
    assert_eq!(order, ["bitcoin", "ethereum", "fresh-coin"]);

    let btc = &rows[0];
    assert_eq!((btc.symbol.as_str(), btc.name.as_str()), ("btc", "Bitcoin"));
    assert_eq!(btc.rank, Some(1));
    assert_exact(btc.price_usd, "70187");
    assert_exact(btc.market_cap_usd, "1381651251183");
    assert_exact(btc.volume_24h_usd, "20154184933");
    assert_exact(btc.change_24h_pct, "3.12502");
    assert_exact(btc.circulating_supply, "19675987");
    assert_exact(btc.total_supply, "21000000");
    assert_exact(btc.max_supply, "21000000");
    assert_eq!(
        btc.upstream_updated_at.unwrap().timestamp_millis(),
        1_712_508_571_736
    );

    let eth = &rows[1];
    assert_eq!(eth.rank, Some(2));
    assert_exact(eth.price_usd, "3500.123456789012345678");
    assert_exact(eth.market_cap_usd, "420000000000.5");
    assert_exact(eth.volume_24h_usd, "12000000000");
    assert_exact(eth.change_24h_pct, "-0.00042");
    assert_exact(eth.circulating_supply, "120278935.0123");
    assert_exact(eth.total_supply, "120278935.0123");
    assert_eq!(eth.max_supply, None, "uncapped: null max_supply is absent");

    let fresh = &rows[2];
    assert_exact(fresh.price_usd, "0.000000123456789012345678");
    assert_eq!(fresh.rank, None);
    assert_eq!(
        (
            fresh.market_cap_usd,
            fresh.volume_24h_usd,
            fresh.change_24h_pct,
            fresh.circulating_supply,
            fresh.total_supply,
            fresh.max_supply,
        ),
        (None, None, None, None, None, None)
    );
    assert_eq!(fresh.upstream_updated_at, None);
}

#[tokio::test]
async fn global_reads_the_usd_figures_dominance_and_counts_exactly() {
    let server = answering(json_body(
        200,
        r#"{"data":{"active_cryptocurrencies":17111,"upcoming_icos":0,"ongoing_icos":49,
            "ended_icos":3376,"markets":1297,
            "total_market_cap":{"btc":32693688.21,"usd":2515268352188.766,"ars":2.70016521312815e+15},
            "total_volume":{"btc":2577437.08,"usd":1.982935018043288e+11},
            "market_cap_percentage":{"btc":60.708,"eth":7.155},
            "market_cap_change_percentage_24h_usd":-9.999293796813587,"updated_at":1744025333}}"#,
    ))
    .await;

    let global = client(&server.uri()).await.global().await.unwrap();

    assert_exact(global.total_market_cap_usd, "2515268352188.766");
    assert_exact(global.total_volume_usd, "198293501804.3288");
    assert_exact(global.btc_dominance_pct, "60.708");
    assert_exact(global.eth_dominance_pct, "7.155");
    assert_eq!(global.active_cryptocurrencies, Some(17111));
    assert_eq!(global.updated_at.unwrap().timestamp(), 1_744_025_333);
}

#[tokio::test]
async fn coin_reads_the_supply_figures_of_market_data_and_a_null_max_supply_is_absent() {
    let server = MockServer::start().await;
    Mock::given(path("/coins/bitcoin"))
        .respond_with(json_body(
            200,
            r#"{"id":"bitcoin","symbol":"btc","name":"Bitcoin","market_cap_rank":1,
             "market_data":{"current_price":{"usd":69840,"eur":64375},
               "market_cap":{"usd":1373546629363},"fully_diluted_valuation":{"usd":1465975550097},
               "total_volume":{"usd":18867210007},"high_24h":{"usd":69805},"low_24h":{"usd":67985},
               "price_change_24h":1619,"price_change_percentage_24h":2.37311,
               "market_cap_change_24h":31172487848,"market_cap_change_percentage_24h":2.32219,
               "total_supply":21000000,"max_supply":21000000,"circulating_supply":19675962,
               "last_updated":"2024-04-07T15:24:51.021Z"},
             "last_updated":"2024-04-07T15:24:51.021Z"}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(path("/coins/ethereum"))
        .respond_with(json_body(
            200,
            r#"{"id":"ethereum","symbol":"eth","name":"Ethereum","market_cap_rank":2,
             "market_data":{"current_price":{"usd":3500},"total_supply":120278935.012345678901,
               "max_supply":null,"circulating_supply":1.2027893501e+8}}"#,
        ))
        .mount(&server)
        .await;
    let coingecko = client(&server.uri()).await;

    let btc = coingecko.coin(&coin_id("bitcoin")).await.unwrap();
    assert_eq!(
        (btc.id.as_str(), btc.symbol.as_str(), btc.name.as_str()),
        ("bitcoin", "btc", "Bitcoin")
    );
    assert_exact(btc.circulating_supply, "19675962");
    assert_exact(btc.total_supply, "21000000");
    assert_exact(btc.max_supply, "21000000");

    let eth = coingecko.coin(&coin_id("ethereum")).await.unwrap();
    assert_exact(eth.total_supply, "120278935.012345678901");
    assert_exact(eth.circulating_supply, "120278935.01");
    assert_eq!(eth.max_supply, None);
}

// ---- Failures ----

#[tokio::test]
async fn a_429_throttles_for_the_retry_after_coingecko_sent() {
    let server =
        answering(json_body(429, RATE_LIMIT_BODY).insert_header("retry-after", "119")).await;

    // The 429 pushes CoinGecko's shared limiter back for 119 s; no permit comes within the
    // longest wait, so the call is handed back throttled for what is left of the 119 s.
    for (call, error) in every_call_fails_with(&server.uri()).await {
        let retry_after = match &error {
            CoinGeckoError::Gate(GateError::Throttled { retry_after, .. }) => *retry_after,
            other => panic!("{call}: {other:?}"),
        };
        assert!(
            retry_after > Duration::from_secs(118) && retry_after <= Duration::from_secs(119),
            "{call}: {retry_after:?}"
        );
        assert!(error.is_transient(), "{call}");
        let job = JobError::from(error);
        assert!(matches!(job, JobError::Throttled { .. }), "{call}: {job:?}");
        assert_eq!(job.retry_after(), Some(retry_after), "{call}");
    }
    assert_eq!(
        requests(&server).await.len(),
        1,
        "one 429, then nobody asks"
    );
}

#[tokio::test]
async fn a_429_without_retry_after_or_as_a_cloudflare_page_still_throttles_a_minute() {
    for response in [
        json_body(429, RATE_LIMIT_BODY),
        ResponseTemplate::new(429).set_body_raw(
            "<html><title>429 Too Many Requests</title></html>",
            "text/html",
        ),
        ResponseTemplate::new(429).set_body_string("Throttled"),
    ] {
        let server = answering(response).await;
        let error = client(&server.uri())
            .await
            .simple_prices(&ids(&["bitcoin"]))
            .await
            .unwrap_err();
        let job = JobError::from(error);
        assert!(matches!(job, JobError::Throttled { .. }), "{job:?}");
        let wait = job.retry_after().unwrap();
        assert!(
            wait > Duration::from_secs(59) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
    }
}

#[tokio::test]
async fn server_errors_and_a_request_timeout_are_transient_with_their_status() {
    for (status, body, message) in [
        (
            500,
            r#"{"error":"Internal server error"}"#,
            "Internal server error",
        ),
        (502, "<html>Bad gateway</html>", "<html>Bad gateway</html>"),
        (
            503,
            r#"{"status":{"error_code":503,"error_message":"Service Unavailable"}}"#,
            "Service Unavailable",
        ),
        (522, "error code: 522", "error code: 522"),
        (408, "", ""),
    ] {
        let server = answering(json_body(status, body)).await;
        for (call, error) in every_call_fails_with(&server.uri()).await {
            match &error {
                CoinGeckoError::Unavailable {
                    status: got,
                    message: got_message,
                } => {
                    assert_eq!(*got, status, "{call}");
                    assert_eq!(got_message, message, "{call}");
                }
                other => panic!("{status} {call}: {other:?}"),
            }
            assert!(error.is_transient());
            let job = JobError::from(error);
            assert!(
                matches!(job, JobError::Transient(_)),
                "{status} {call}: {job:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_refused_key_is_a_permanent_unauthorized_with_coingeckos_message() {
    for (status, body, message) in [
        (
            401,
            r#"{"status":{"error_code":10002,"error_message":"API Key Missing"}}"#,
            "API Key Missing",
        ),
        (
            401,
            r#"{"error":{"status":{"error_code":10010,"error_message":"If you are using Pro API key, please change your root URL from api.coingecko.com to pro-api.coingecko.com"}}}"#,
            "If you are using Pro API key, please change your root URL from api.coingecko.com to pro-api.coingecko.com",
        ),
        (403, "error code: 1020", "error code: 1020"),
    ] {
        let server = answering(json_body(status, body)).await;
        for (call, error) in every_call_fails_with(&server.uri()).await {
            match &error {
                CoinGeckoError::Unauthorized {
                    status: got,
                    message: got_message,
                } => {
                    assert_eq!(*got, status, "{call}");
                    assert_eq!(got_message, message, "{call}");
                }
                other => panic!("{status} {call}: {other:?}"),
            }
            assert!(!error.is_transient());
            let job = JobError::from(error);
            assert!(job.is_permanent(), "{status} {call}: {job:?}");
            assert!(!job.reason().contains(KEY));
        }
    }
}

#[tokio::test]
async fn an_unknown_coin_and_other_4xx_are_permanent_rejections() {
    let server = answering(json_body(404, r#"{"error":"coin not found"}"#)).await;
    let error = client(&server.uri())
        .await
        .coin(&coin_id("not-a-coin"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CoinGeckoError::Rejected { status: 404, message } if message == "coin not found"),
        "{error:?}"
    );
    assert!(JobError::from(error).is_permanent());

    for (status, body, message) in [
        (
            400,
            r#"{"error":"invalid vs_currency"}"#,
            "invalid vs_currency",
        ),
        (404, r#"{"error":"Not Found"}"#, "Not Found"),
        (422, "unprocessable", "unprocessable"),
    ] {
        let server = answering(json_body(status, body)).await;
        for (call, error) in every_call_fails_with(&server.uri()).await {
            match &error {
                CoinGeckoError::Rejected {
                    status: got,
                    message: got_message,
                } => {
                    assert_eq!(*got, status, "{call}");
                    assert_eq!(got_message, message, "{call}");
                }
                other => panic!("{status} {call}: {other:?}"),
            }
            assert!(JobError::from(error).is_permanent(), "{status} {call}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_host_is_a_transient_transport_error() {
    for (call, error) in every_call_fails_with(&refusing_url()).await {
        assert!(
            matches!(error, CoinGeckoError::Gate(GateError::Transport { .. })),
            "{call}: {error:?}"
        );
        let job = JobError::from(error);
        assert!(matches!(job, JobError::Transient(_)), "{call}: {job:?}");
        assert!(!format!("{job:?}").contains(KEY));
    }
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_transient_transport_error() {
    let server = answering(json_body(200, "{}").set_delay(Duration::from_secs(30))).await;
    let built = build(CoinGeckoSettings {
        timeout_ms: 200,
        ..settings(&server.uri(), CoinGeckoPlan::Demo, Some(KEY))
    })
    .await;
    let coingecko = built.client.as_ref().unwrap();

    let error = coingecko
        .simple_prices(&ids(&["bitcoin"]))
        .await
        .unwrap_err();

    match &error {
        CoinGeckoError::Gate(GateError::Transport { source, .. }) => {
            assert!(source.is_timeout(), "{source:?}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(JobError::from(error), JobError::Transient(_)));
}

#[tokio::test]
async fn a_200_that_is_not_coingeckos_answer_is_a_transient_error_never_data() {
    let html = "<html><head><title>Just a moment...</title></head></html>";
    let envelope = RATE_LIMIT_BODY;
    let cases: Vec<(&str, &str)> = vec![
        ("simple_prices", html),
        ("simple_prices", ""),
        ("simple_prices", r#"{"bitcoin":{"usd":67187.33"#),
        ("simple_prices", "null"),
        ("simple_prices", "[]"),
        ("simple_prices", r#"{"error":"invalid request"}"#),
        // CoinGecko's error envelope is an object of objects too; at 200 it is not "no prices".
        ("simple_prices", envelope),
        ("simple_prices", r#"{"bitcoin":{"usd":"67187.33"}}"#),
        ("simple_prices", r#"{"bitcoin":{"usd":1e-40}}"#),
        ("markets", html),
        ("markets", envelope),
        (
            "markets",
            r#"[{"id":"bitcoin","symbol":"btc","name":"Bitcoin","current_price":"70187"}]"#,
        ),
        ("markets", r#"[{"symbol":"btc","name":"Bitcoin"}]"#),
        ("global", html),
        ("global", envelope),
        ("global", r#"{"data":{"total_market_cap":{"usd":"lots"}}}"#),
        ("coin", html),
        ("coin", r#"{"error":"coin not found"}"#),
        (
            "coin",
            r#"{"id":"bitcoin","symbol":"btc","name":"Bitcoin","market_data":{"max_supply":true}}"#,
        ),
    ];
    for (call, body) in cases {
        let server = answering(json_body(200, body)).await;
        let coingecko = client(&server.uri()).await;
        let error = match call {
            "simple_prices" => coingecko
                .simple_prices(&ids(&["bitcoin"]))
                .await
                .map(|v| format!("{v:?}"))
                .unwrap_err(),
            "markets" => coingecko
                .markets(1, 100)
                .await
                .map(|v| format!("{v:?}"))
                .unwrap_err(),
            "global" => coingecko
                .global()
                .await
                .map(|v| format!("{v:?}"))
                .unwrap_err(),
            _ => coingecko
                .coin(&coin_id("bitcoin"))
                .await
                .map(|v| format!("{v:?}"))
                .unwrap_err(),
        };
        assert!(
            matches!(error, CoinGeckoError::Unavailable { status: 200, .. }),
            "{call} {body}: {error:?}"
        );
        let job = JobError::from(error);
        assert!(
            matches!(job, JobError::Transient(_)),
            "{call} {body}: {job:?}"
        );
    }
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_so_the_key_never_reaches_it() {
    let elsewhere = answering(json_body(200, r#"{"bitcoin":{"usd":1}}"#)).await;
    let redirecting = answering(
        ResponseTemplate::new(302)
            .insert_header("location", format!("{}/simple/price", elsewhere.uri())),
    )
    .await;

    let error = client(&redirecting.uri())
        .await
        .simple_prices(&ids(&["bitcoin"]))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, CoinGeckoError::Rejected { status: 302, message } if message.contains("redirect")),
        "{error:?}"
    );
    assert!(JobError::from(error).is_permanent());
    assert_eq!(
        requests(&redirecting).await.len(),
        1,
        "one request, no retry"
    );
    let reached = requests(&elsewhere).await;
    assert!(
        reached.is_empty(),
        "the redirect was followed; headers sent: {:?}",
        reached.iter().map(|r| &r.headers).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_body_over_the_cap_fails_naming_the_cap_and_is_permanent() {
    const CAP: usize = 1 << 20;
    let huge = format!(
        r#"{{"bitcoin":{{"usd":1}},"pad":"{}"}}"#,
        "x".repeat(8 << 20)
    );
    let server = answering(json_body(200, &huge)).await;
    let built = gated(
        |s| {
            s.providers.coingecko = CoinGeckoSettings {
                rate_limit: "off".into(),
                ..settings(&server.uri(), CoinGeckoPlan::Demo, Some(KEY))
            };
            s.upstream.retries = 2;
            s.upstream.max_body_bytes = CAP;
        },
        CoinGecko::new,
    )
    .await;

    let error = built
        .client
        .as_ref()
        .unwrap()
        .simple_prices(&ids(&["bitcoin"]))
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            CoinGeckoError::Gate(GateError::TooLarge { cap: CAP, .. })
        ),
        "{error:?}"
    );
    let job = JobError::from(error);
    assert!(job.is_permanent(), "{job:?}");
    assert!(
        job.reason()
            .contains("upstream.max_body_bytes (1048576 bytes)"),
        "{job}"
    );
    assert_eq!(requests(&server).await.len(), 1, "not retried");
}
