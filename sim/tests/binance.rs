//! Binance's `/api/v3/ticker/price` and `/api/v3/ticker/24hr` under `/binance` over real HTTP:
//! strings with 8 decimals, the weight header, 429 past the weight limit, -1121 for unknown pairs,
//! and synthetic coins listed as pairs only when asked, one pair per ticker.

mod common;

use coinbeat_sim::{Faults, SimConfig, SimHandle, StreamConfig};
use common::{fetch, frozen_sim, prices, start};
use serde_json::Value;

async fn binance(sim: &SimHandle, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
    fetch(&format!("{}/api/v3{path}", sim.binance_url()), query).await
}

fn has_8_decimals(text: &str) -> bool {
    text.split_once('.')
        .is_some_and(|(int, dec)| !int.is_empty() && dec.len() == 8)
}

#[tokio::test]
async fn one_symbol_gives_one_object_with_an_8_decimal_string_and_the_weight_header() {
    let sim = frozen_sim(1).await;

    let response = binance(&sim, "/ticker/price", &[("symbol", "BTCUSDT")]).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mbx-used-weight-1m"], "2");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["symbol"], "BTCUSDT");
    let price = body["price"].as_str().expect("the price is a string");
    assert!(has_8_decimals(price), "{price}");
}

#[tokio::test]
async fn all_pairs_are_the_usdt_pairs_of_the_default_coins_but_usdt() {
    let sim = frozen_sim(1).await;

    let body: Vec<Value> = binance(&sim, "/ticker/price", &[])
        .await
        .json()
        .await
        .unwrap();

    let symbols: Vec<&str> = body.iter().map(|r| r["symbol"].as_str().unwrap()).collect();
    for expected in [
        "BTCUSDT", "ETHUSDT", "USDCUSDT", "TRXUSDT", "LTCUSDT", "WLDUSDT", "POLUSDT", "OPUSDT",
        "SOLUSDT", "BNBUSDT", "AVAXUSDT",
    ] {
        assert!(symbols.contains(&expected), "{expected} in {symbols:?}");
    }
    assert!(!symbols.contains(&"USDTUSDT"));
    assert!(
        body.iter()
            .all(|r| has_8_decimals(r["price"].as_str().unwrap()))
    );
}

#[tokio::test]
async fn prices_are_coingeckos_usd_prices_rounded_to_8_decimals() {
    let sim = frozen_sim(6).await;

    let full = prices(
        &sim,
        &[
            ("ids", "bitcoin,ethereum,shiba-inu"),
            ("vs_currencies", "usd"),
            ("precision", "full"),
        ],
    )
    .await;
    let query = [("symbols", r#"["BTCUSDT","ETHUSDT","SHIBUSDT"]"#)];
    let body: Vec<Value> = binance(&sim, "/ticker/price", &query)
        .await
        .json()
        .await
        .unwrap();

    for (row, id) in body.iter().zip(["bitcoin", "ethereum", "shiba-inu"]) {
        let binance: f64 = row["price"].as_str().unwrap().parse().unwrap();
        let coingecko: f64 = full[id]["usd"].get().parse().unwrap();
        assert!(
            (binance - coingecko).abs() <= 0.5e-8 + coingecko * 1e-13,
            "{id}: binance {binance} vs coingecko {coingecko}"
        );
    }
    assert_eq!(
        sim.served().binance["ETHUSDT"].usd,
        body[1]["price"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_24hr_row_has_binances_keys_strings_and_millisecond_times() {
    let sim = frozen_sim(1).await;

    let response = binance(&sim, "/ticker/24hr", &[("symbol", "ETHUSDT")]).await;
    assert_eq!(response.headers()["x-mbx-used-weight-1m"], "2");
    let row: Value = response.json().await.unwrap();

    let strings = [
        "priceChange",
        "priceChangePercent",
        "weightedAvgPrice",
        "prevClosePrice",
        "lastPrice",
        "lastQty",
        "bidPrice",
        "bidQty",
        "askPrice",
        "askQty",
        "openPrice",
        "highPrice",
        "lowPrice",
        "volume",
        "quoteVolume",
    ];
    for key in strings {
        assert!(row[key].is_string(), "{key} is a string: {row}");
    }
    for key in ["openTime", "closeTime", "firstId", "lastId", "count"] {
        assert!(row[key].is_u64(), "{key} is a number");
    }
    assert_eq!(row.as_object().unwrap().len(), strings.len() + 6);
    assert!(has_8_decimals(row["lastPrice"].as_str().unwrap()));
    let close = row["closeTime"].as_u64().unwrap();
    assert_eq!(close - row["openTime"].as_u64().unwrap(), 86_400_000);
    let last: f64 = row["lastPrice"].as_str().unwrap().parse().unwrap();
    let open: f64 = row["openPrice"].as_str().unwrap().parse().unwrap();
    let change: f64 = row["priceChange"].as_str().unwrap().parse().unwrap();
    assert!((last - open - change).abs() < 2e-8);
}

#[tokio::test]
async fn unknown_symbols_and_bad_parameters_get_binance_error_codes() {
    let sim = frozen_sim(1).await;

    let unknown = binance(&sim, "/ticker/price", &[("symbol", "USDTUSDT")]).await;
    let one_unknown = binance(
        &sim,
        "/ticker/24hr",
        &[("symbols", r#"["BTCUSDT","NOPEUSDT"]"#)],
    )
    .await;
    let both = binance(
        &sim,
        "/ticker/price",
        &[("symbol", "BTCUSDT"), ("symbols", r#"["BTCUSDT"]"#)],
    )
    .await;

    assert_eq!(unknown.status(), 400);
    assert!(unknown.headers().contains_key("x-mbx-used-weight-1m"));
    assert_eq!(
        unknown.text().await.unwrap(),
        r#"{"code":-1121,"msg":"Invalid symbol."}"#
    );
    assert_eq!(one_unknown.status(), 400);
    let body: Value = one_unknown.json().await.unwrap();
    assert_eq!(body["code"], -1121);
    assert_eq!(both.status(), 400);
    let body: Value = both.json().await.unwrap();
    assert_eq!(body["code"], -1128);
}

#[tokio::test]
async fn past_the_weight_limit_binance_answers_429_with_retry_after() {
    let sim = start(SimConfig {
        step_ms: 0,
        faults: Faults {
            binance_weight_per_minute: 10,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;

    let first = binance(&sim, "/ticker/price", &[]).await;
    let second = binance(&sim, "/ticker/price", &[]).await;
    let limited = binance(&sim, "/ticker/price", &[]).await;

    assert_eq!(first.headers()["x-mbx-used-weight-1m"], "4");
    assert_eq!(second.headers()["x-mbx-used-weight-1m"], "8");
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((55..=60).contains(&retry_after), "{retry_after}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], -1003);
    assert!(
        body["msg"]
            .as_str()
            .unwrap()
            .starts_with("Too much request weight used")
    );
    assert_eq!(sim.stats().by_provider["binance"].rate_limited, 1);
}

#[tokio::test]
async fn a_mini_24hr_row_drops_the_full_only_fields() {
    let sim = frozen_sim(1).await;

    let row: Value = binance(
        &sim,
        "/ticker/24hr",
        &[("symbol", "SOLUSDT"), ("type", "MINI")],
    )
    .await
    .json()
    .await
    .unwrap();

    let keys: Vec<&str> = row
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 12, "{keys:?}");
    for dropped in ["priceChange", "weightedAvgPrice", "bidPrice", "lastQty"] {
        assert!(row.get(dropped).is_none(), "{dropped}");
    }
    assert!(has_8_decimals(row["lastPrice"].as_str().unwrap()));
}

#[tokio::test]
async fn ping_answers_an_empty_object_and_obeys_down() {
    let sim = frozen_sim(1).await;
    let response = binance(&sim, "/ping", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        serde_json::json!({})
    );
    sim.control(&coinbeat_sim::ControlRequest {
        down: Some(true),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(binance(&sim, "/ping", &[]).await.status(), 503);
}

/// Every pair `/ticker/price` lists, with its price text.
async fn all_pairs(sim: &SimHandle) -> Vec<(String, String)> {
    let rows: Vec<Value> = binance(sim, "/ticker/price", &[])
        .await
        .json()
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let text = |key: &str| r[key].as_str().unwrap().to_owned();
            (text("symbol"), text("price"))
        })
        .collect()
}

#[tokio::test]
async fn synthetic_coins_are_usdt_pairs_of_their_own_tickers_only_when_listed() {
    let config = |list_synthetic_on_binance| SimConfig {
        step_ms: 0,
        extra_coins: 1_000,
        streams: StreamConfig {
            list_synthetic_on_binance,
            ..StreamConfig::default()
        },
        ..SimConfig::default()
    };
    let listed = start(config(true)).await;
    let unlisted = start(config(false)).await;

    let every = all_pairs(&listed).await;
    let builtin = all_pairs(&unlisted).await;
    let (last, _) = every.last().unwrap().clone();
    let one = binance(&listed, "/ticker/price", &[("symbol", &last)]).await;
    let refused = binance(&unlisted, "/ticker/price", &[("symbol", &last)]).await;
    let (other, _) = every[builtin.len() + 41].clone();
    let day: Value = binance(&listed, "/ticker/24hr", &[("symbol", &other)])
        .await
        .json()
        .await
        .unwrap();

    let synthetic = every.len() - builtin.len();
    assert!(
        (900..1_000).contains(&synthetic),
        "one pair per ticker: {synthetic} pairs for 1,000 coins, some sharing tickers"
    );
    assert_eq!(
        every[..builtin.len()],
        builtin[..],
        "built-in pairs come first"
    );
    let handle: Vec<String> = listed
        .binance_pairs()
        .into_iter()
        .map(|p| p.symbol)
        .collect();
    let rest: Vec<String> = every.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(handle, rest, "the handle lists the same pairs");
    assert_eq!(one.status(), 200);
    let one: Value = one.json().await.unwrap();
    assert_eq!(one["symbol"], last);
    let price = one["price"].as_str().unwrap();
    assert!(has_8_decimals(price), "{price}");
    assert_eq!(listed.served().binance[&last].usd, price);
    assert_eq!(refused.status(), 400);
    assert_eq!(day["symbol"], other);
    assert!(day["lastPrice"].as_str().unwrap().parse::<f64>().unwrap() > 0.0);
}

#[tokio::test]
async fn a_shared_ticker_has_one_pair_its_first_holders_and_btcusdt_is_bitcoin() {
    let sim = start(SimConfig {
        step_ms: 0,
        extra_coins: 14_000,
        streams: StreamConfig {
            list_synthetic_on_binance: true,
            ..StreamConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let list: Vec<Value> = common::get(&sim, "/coins/list", &[])
        .await
        .json()
        .await
        .unwrap();
    let mut holders: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for coin in &list {
        let symbol = coin["symbol"].as_str().unwrap().to_uppercase();
        let id = coin["id"].as_str().unwrap().to_owned();
        holders.entry(symbol).or_default().push(id);
    }
    let pairs = all_pairs(&sim).await;

    let unique: std::collections::BTreeSet<&str> = pairs.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(unique.len(), pairs.len(), "no pair is listed twice");
    assert_eq!(
        pairs.len(),
        holders.len() - 1,
        "one pair per ticker, but USDT"
    );
    let shared: Vec<(&String, &Vec<String>)> =
        holders.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(shared.len() > 100, "{} shared tickers", shared.len());
    let builtin_shared = shared
        .iter()
        .filter(|(_, ids)| ids.iter().any(|id| !id.starts_with("sim-coin-")))
        .count();
    assert!(
        builtin_shared > 0,
        "some synthetic coin has a built-in ticker"
    );
    // The first holder: a built-in coin, or the synthetic coin with the lowest number.
    let first = |ids: &Vec<String>| -> String {
        ids.iter()
            .find(|id| !id.starts_with("sim-coin-"))
            .or_else(|| ids.iter().min())
            .unwrap()
            .clone()
    };
    let mut checked = vec![("BTC".to_owned(), "bitcoin".to_owned())];
    checked.extend(
        shared
            .iter()
            .filter(|(symbol, _)| *symbol != "USDT")
            .take(40)
            .map(|(symbol, ids)| ((*symbol).clone(), first(ids))),
    );
    let ids: Vec<&str> = checked.iter().map(|(_, id)| id.as_str()).collect();
    let full = prices(
        &sim,
        &[
            ("ids", &ids.join(",")),
            ("vs_currencies", "usd"),
            ("precision", "full"),
        ],
    )
    .await;
    for (symbol, id) in &checked {
        let pair = format!("{symbol}USDT");
        let (_, price) = pairs
            .iter()
            .find(|(s, _)| *s == pair)
            .unwrap_or_else(|| panic!("{pair} is listed"));
        let binance: f64 = price.parse().unwrap();
        let coingecko: f64 = full[id]["usd"].get().parse().unwrap();
        assert!(
            (binance - coingecko).abs() <= 0.5e-8 + coingecko * 1e-13,
            "{pair} is {id}'s: binance {binance} vs coingecko {coingecko}"
        );
    }
}
