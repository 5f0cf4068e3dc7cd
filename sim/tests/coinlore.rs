//! CoinLore's `/api/tickers/` and `/api/ticker/` over real HTTP: mixed types, `""` max supply,
//! paging, and the bare-array single ticker.

mod common;

use coinbeat_sim::SimHandle;
use common::{fetch_json, frozen_sim};
use serde_json::Value;

async fn coinlore(sim: &SimHandle, path: &str, query: &[(&str, &str)]) -> Value {
    fetch_json(&format!("{}{path}", sim.coinlore_url()), query).await
}

#[tokio::test]
async fn tickers_have_coinlores_mixed_types_and_an_info_block() {
    let sim = frozen_sim(1).await;

    let body = coinlore(&sim, "/tickers/", &[("start", "0"), ("limit", "100")]).await;

    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 15);
    assert_eq!(body["info"]["coins_num"], 15);
    assert!(body["info"]["time"].is_u64());
    let btc = &data[0];
    assert_eq!(btc["id"], "90");
    assert_eq!(btc["symbol"], "BTC");
    assert_eq!(btc["nameid"], "bitcoin");
    assert_eq!(btc["rank"], 1);
    assert_eq!(btc["msupply"], "21000000");
    assert_eq!(btc["price_btc"], "1.00");
    for key in [
        "price_usd",
        "percent_change_24h",
        "percent_change_1h",
        "percent_change_7d",
        "market_cap_usd",
        "csupply",
        "tsupply",
    ] {
        let text = btc[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} is a string"));
        assert!(text.parse::<f64>().is_ok(), "{key}: {text}");
    }
    assert!(btc["volume24"].is_f64() && btc["volume24a"].is_f64());
    let eth = data.iter().find(|c| c["symbol"] == "ETH").unwrap();
    assert_eq!(eth["id"], "80");
    assert_eq!(
        eth["msupply"], "",
        "uncapped coins have an empty max supply"
    );
    let price: f64 = btc["price_usd"].as_str().unwrap().parse().unwrap();
    assert!((80_000.0..110_000.0).contains(&price));
}

#[tokio::test]
async fn tickers_page_by_start_and_limit_without_the_trailing_slash_too() {
    let sim = frozen_sim(1).await;

    let first = coinlore(&sim, "/tickers/", &[("start", "0"), ("limit", "5")]).await;
    let second = coinlore(&sim, "/tickers", &[("start", "5"), ("limit", "5")]).await;
    let beyond = coinlore(&sim, "/tickers/", &[("start", "100")]).await;

    let ranks = |body: &Value| -> Vec<u64> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["rank"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ranks(&first), [1, 2, 3, 4, 5]);
    assert_eq!(ranks(&second), [6, 7, 8, 9, 10]);
    assert!(ranks(&beyond).is_empty());
}

#[tokio::test]
async fn a_single_ticker_is_a_bare_array_with_string_volumes() {
    let sim = frozen_sim(1).await;

    let eth = coinlore(&sim, "/ticker/", &[("id", "80")]).await;
    let unknown = coinlore(&sim, "/ticker/", &[("id", "999999999")]).await;

    let rows = eth.as_array().expect("a bare array");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["symbol"], "ETH");
    assert!(rows[0]["volume24"].is_string());
    assert!(rows[0]["volume24_native"].is_string());
    assert!(rows[0].get("volume24a").is_none());
    assert_eq!(unknown, Value::Array(Vec::new()));
    assert_eq!(
        frozen_sim(1).await.served().coinlore.len(),
        0,
        "a fresh sim has served nothing"
    );
    assert_eq!(
        sim.served().coinlore["ETH"].usd,
        rows[0]["price_usd"].as_str().unwrap()
    );
}

#[tokio::test]
async fn global_is_a_bare_array_with_dominance_as_strings() {
    let sim = frozen_sim(1).await;

    let body = coinlore(&sim, "/global/", &[]).await;

    let global = &body.as_array().expect("a bare array")[0];
    assert_eq!(global["coins_count"], 15);
    assert!(global["total_mcap"].as_f64().unwrap() > 1e12);
    let btc_d: f64 = global["btc_d"].as_str().unwrap().parse().unwrap();
    assert!((40.0..80.0).contains(&btc_d));
    assert!(global["mcap_change"].is_string());
}
