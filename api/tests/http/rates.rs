//! `?vs=`: prices in another currency through the stored exchange rate, each figure the exact
//! decimal product (checked against Python's `Decimal`), with the rate's own age and source.

use chrono::{Duration, Utc};
use coinbeat_shared::{
    cache::{RateCache, RateRecord},
    domain::Currency,
    keys::Keys,
    redis_conn,
};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Api, assert_error, record};

/// Stores `per_usd` units of `currency` per dollar, fetched `age` ago, as the rates worker does.
pub async fn write_rate(api: &Api, currency: &str, per_usd: &str, age: Duration) {
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let cache = RateCache::new(conn, Keys::new(api.settings.redis.key_prefix.clone()));
    let fetched_at = Utc::now() - age;
    let written = cache
        .write(&RateRecord {
            currency: Currency::parse(currency).unwrap(),
            per_usd: per_usd.parse().unwrap(),
            as_of: Some(fetched_at - Duration::seconds(20)),
            fetched_at,
            source: "alphavantage".into(),
        })
        .await
        .unwrap();
    assert!(written);
}

/// `a × b` as Python's `Decimal` computes it, with a context wide enough (100 digits) that
/// the product is exact, in plain notation without trailing zeros.
fn python_product(a: &str, b: &str) -> String {
    let script = "import sys\nfrom decimal import Decimal as D, getcontext\n\
                  getcontext().prec = 100\n\
                  p = (D(sys.argv[1]) * D(sys.argv[2])).normalize()\nprint(format(p, 'f'))";
    let out = std::process::Command::new("python3")
        .args(["-c", script, a, b])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A plain decimal string without trailing zeros, as `python_product` prints (read as text:
/// a `Decimal` would round past 28 digits).
fn normal(text: &Value) -> String {
    let text = text.as_str().unwrap();
    match text.split_once('.') {
        Some((int, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                int.to_owned()
            } else {
                format!("{int}.{frac}")
            }
        }
        None => text.to_owned(),
    }
}

#[tokio::test]
async fn eur_prices_are_the_exact_decimal_product_of_the_usd_price_and_the_stored_rate() {
    let api = Api::start().await;
    let now = Utc::now();
    api.write(&[
        record("BTC", "67187.3358936566", now),
        record("TRX", "0.00001234567891234", now),
    ])
    .await;
    write_rate(&api, "EUR", "0.92345678", Duration::minutes(5)).await;

    let (status, btc) = api.get("/v1/prices/btc?vs=eur").await;
    assert_eq!(status, StatusCode::OK, "{btc}");
    assert_eq!(btc["usd"], "67187.3358936566", "the USD figures stay");
    let vs = &btc["vs"];
    assert_eq!(vs["currency"], "EUR");
    assert_eq!(vs["rate"], "0.92345678");
    assert_eq!(
        normal(&vs["price"]),
        python_product("67187.3358936566", "0.92345678")
    );
    assert_eq!(
        normal(&vs["market_cap"]),
        python_product("1325847389123.5", "0.92345678")
    );
    assert_eq!(
        normal(&vs["volume_24h"]),
        python_product("28734987.0012", "0.92345678")
    );
    // The rate's own age and source, beside the price's.
    assert_eq!(vs["rate_source"], "alphavantage");
    assert!(vs["rate_fetched_at"].is_string(), "{vs}");
    assert!(vs["rate_as_of"].is_string(), "{vs}");
    let age = vs["rate_age_seconds"].as_u64().unwrap();
    assert!((299..330).contains(&age), "{vs}");
    assert_eq!(vs["rate_stale"], false);

    // A figure of CoinCap's 16 places times the rate has 36 digits, past a `Decimal`'s 28:
    // every one is kept.
    let mut wide = record("SOL", "141.2345678901234567", now);
    wide.market_cap_usd = Some("119150835874.4699281625807300".parse().unwrap());
    api.write(&[wide]).await;
    let (_, sol) = api.get("/v1/prices/SOL?vs=eur").await;
    assert_eq!(
        normal(&sol["vs"]["market_cap"]),
        python_product("119150835874.4699281625807300", "0.92345678")
    );
    assert!(normal(&sol["vs"]["market_cap"]).len() > 30, "{sol}");

    // The list, every price converted; a sub-cent one keeps its digits.
    let (status, list) = api.get("/v1/prices?symbols=BTC,TRX&vs=EUR").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let trx = list["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["symbol"] == "TRX")
        .unwrap();
    assert_eq!(
        normal(&trx["vs"]["price"]),
        python_product("0.00001234567891234", "0.92345678")
    );

    // Without `vs`, no `vs` field; `usd` is the identity.
    let (_, plain) = api.get("/v1/prices/BTC").await;
    assert!(plain.get("vs").is_none(), "{plain}");
    let (_, usd) = api.get("/v1/prices/BTC?vs=usd").await;
    assert_eq!(usd["vs"]["price"], "67187.3358936566");
    assert_eq!(usd["vs"]["rate"], "1");
    assert_eq!(usd["vs"]["rate_source"], "usd");
}

#[tokio::test]
async fn an_old_rate_is_marked_stale_and_a_currency_without_one_is_refused_clearly() {
    let api = Api::start().await;
    api.write(&[record("BTC", "60000.5", Utc::now())]).await;

    // Listed (GBP is a default currency) but no rate stored: 503, saying why.
    let (status, body) = api.get("/v1/prices/BTC?vs=gbp").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "rate_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ALPHAVANTAGE_API_KEY")
    );
    // Not listed: 404 (like a coin nobody lists) with the currencies that are.
    let (status, body) = api.get("/v1/prices?vs=chf").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unknown_currency");
    assert_eq!(
        body["error"]["details"]["known_currencies"],
        serde_json::json!(["USD", "EUR", "GBP", "JPY"])
    );
    // Not a currency code at all.
    let (status, body) = api.get("/v1/prices/BTC?vs=euro").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_currency");

    // A rate older than `rates.fresh_secs` (12 h) is served, marked stale.
    // (The API reads the rates again at most once a second.)
    write_rate(&api, "JPY", "150.12345678", Duration::hours(13)).await;
    let started = std::time::Instant::now();
    let body = loop {
        let (status, body) = api.get("/v1/prices/BTC?vs=jpy").await;
        if status == StatusCode::OK {
            break body;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "the stored rate is not served: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(body["vs"]["rate_stale"], true, "{body}");
    assert_eq!(body["stale"], false, "the price itself is fresh");
    assert_eq!(
        normal(&body["vs"]["price"]),
        python_product("60000.5", "150.12345678")
    );
}
