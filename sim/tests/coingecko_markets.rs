//! CoinGecko's `/coins/markets`, `/global` and `/coins/{id}` over real HTTP: row shapes, the
//! `null` max supply, exponent notation, flags, 404s and agreement with `/simple/price`.

mod common;

use common::{fetch, frozen_sim, get, num, prices};
use serde_json::Value;
use serde_json::value::RawValue;

const ROW_KEYS: [&str; 26] = [
    "id",
    "symbol",
    "name",
    "image",
    "current_price",
    "market_cap",
    "market_cap_rank",
    "fully_diluted_valuation",
    "total_volume",
    "high_24h",
    "low_24h",
    "price_change_24h",
    "price_change_percentage_24h",
    "market_cap_change_24h",
    "market_cap_change_percentage_24h",
    "circulating_supply",
    "total_supply",
    "max_supply",
    "ath",
    "ath_change_percentage",
    "ath_date",
    "atl",
    "atl_change_percentage",
    "atl_date",
    "roi",
    "last_updated",
];

type RawRow = serde_json::Map<String, Value>;

async fn markets(sim: &coinbeat_sim::SimHandle, query: &[(&str, &str)]) -> Vec<RawRow> {
    let response = get(sim, "/coins/markets", query).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn markets_rows_have_coingeckos_keys_in_order_and_ranks_by_market_cap() {
    let sim = frozen_sim(1).await;

    let text = get(&sim, "/coins/markets", &[("vs_currency", "usd")])
        .await
        .text()
        .await
        .unwrap();
    let rows: Vec<RawRow> = serde_json::from_str(&text).unwrap();

    assert_eq!(rows.len(), 15, "every coin fits the default page of 100");
    let first_row = &text[..text.find("},{").unwrap()];
    let positions: Vec<usize> = ROW_KEYS
        .iter()
        .map(|key| first_row.find(&format!("\"{key}\":")).unwrap())
        .collect();
    assert!(positions.is_sorted(), "key order in {first_row}");
    for (i, row) in rows.iter().enumerate() {
        let keys: Vec<&str> = row.keys().map(String::as_str).collect();
        let mut expected = ROW_KEYS.to_vec();
        expected.sort_unstable();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort_unstable();
        assert_eq!(keys_sorted, expected);
        assert_eq!(row["market_cap_rank"], i + 1);
    }
    let caps: Vec<f64> = rows
        .iter()
        .map(|r| r["market_cap"].as_f64().unwrap())
        .collect();
    assert!(caps.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(rows[0]["id"], "bitcoin");
    assert_eq!(rows[0]["symbol"], "btc");
    assert_eq!(rows[0]["max_supply"], 21_000_000);
    let eth = rows.iter().find(|r| r["id"] == "ethereum").unwrap();
    assert!(eth["max_supply"].is_null(), "uncapped coins have null");
    assert!(eth["roi"].is_object());
    assert!(rows[0]["roi"].is_null());
    assert!(eth["ath_date"].as_str().unwrap().ends_with("Z"));
    let high = eth["high_24h"].as_f64().unwrap();
    let low = eth["low_24h"].as_f64().unwrap();
    let price = eth["current_price"].as_f64().unwrap();
    assert!(low < price && price < high);
}

#[tokio::test]
async fn markets_current_price_is_the_same_text_as_simple_price_and_is_served() {
    let sim = frozen_sim(4).await;
    sim.control(&coinbeat_sim::ControlRequest {
        advance_steps: Some(17),
        ..Default::default()
    })
    .unwrap();

    let text = get(
        &sim,
        "/coins/markets",
        &[("vs_currency", "usd"), ("ids", "bitcoin,pepe")],
    )
    .await
    .text()
    .await
    .unwrap();
    let rows: Vec<std::collections::BTreeMap<String, Box<RawValue>>> =
        serde_json::from_str(&text).unwrap();
    let simple = prices(&sim, &[("ids", "bitcoin,pepe"), ("vs_currencies", "usd")]).await;

    assert_eq!(rows.len(), 2);
    for row in &rows {
        let id: String = serde_json::from_str(row["id"].get()).unwrap();
        assert_eq!(row["current_price"].get(), simple[&id]["usd"].get(), "{id}");
        assert_eq!(sim.served().coingecko[&id].usd, row["current_price"].get());
    }
}

#[tokio::test]
async fn markets_pages_order_and_optional_fields() {
    let sim = frozen_sim(1).await;

    let page1 = markets(&sim, &[("vs_currency", "usd"), ("per_page", "4")]).await;
    let page4 = markets(
        &sim,
        &[("vs_currency", "usd"), ("per_page", "4"), ("page", "4")],
    )
    .await;
    let beyond = markets(
        &sim,
        &[("vs_currency", "usd"), ("per_page", "4"), ("page", "9")],
    )
    .await;
    let by_id = markets(&sim, &[("vs_currency", "usd"), ("order", "id_asc")]).await;
    let extras = markets(
        &sim,
        &[
            ("vs_currency", "eur"),
            ("ids", "solana"),
            ("sparkline", "true"),
            ("price_change_percentage", "1h,24h,7d"),
        ],
    )
    .await;
    let missing = get(&sim, "/coins/markets", &[]).await;

    assert_eq!(page1.len(), 4);
    assert_eq!(page4.len(), 3);
    assert_eq!(page4[0]["market_cap_rank"], 13);
    assert!(beyond.is_empty());
    let ids: Vec<&str> = by_id.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.is_sorted());
    let sol = &extras[0];
    assert_eq!(
        sol["sparkline_in_7d"]["price"].as_array().unwrap().len(),
        168
    );
    for key in [
        "price_change_percentage_1h_in_currency",
        "price_change_percentage_24h_in_currency",
        "price_change_percentage_7d_in_currency",
    ] {
        assert!(sol[key].is_number(), "{key}");
    }
    assert_eq!(missing.status(), 400);
    assert_eq!(
        missing.text().await.unwrap(),
        r#"{"error":"Missing parameter vs_currency"}"#
    );
}

#[tokio::test]
async fn global_totals_use_exponent_notation_for_huge_values() {
    let sim = frozen_sim(1).await;

    let text = get(&sim, "/global", &[]).await.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();

    let data = &body["data"];
    assert_eq!(data["active_cryptocurrencies"], 15);
    let caps = data["total_market_cap"].as_object().unwrap();
    for code in ["btc", "eth", "usd", "eur", "ars"] {
        assert!(caps[code].is_number(), "{code}");
    }
    assert!(
        text.contains(r#""ars":"#) && {
            let ars = &text[text.find(r#""ars":"#).unwrap() + 6..];
            ars[..ars.find([',', '}']).unwrap()].contains("e+")
        },
        "ars in exponent notation: {text}"
    );
    let usd = caps["usd"].as_f64().unwrap();
    assert!((2.0e12..4.0e12).contains(&usd), "total cap {usd}");
    let btc_share = data["market_cap_percentage"]["btc"].as_f64().unwrap();
    assert!((40.0..80.0).contains(&btc_share));
    assert!(data["updated_at"].is_u64());
}

#[tokio::test]
async fn coin_pages_honour_their_flags_and_agree_with_simple_price() {
    let sim = frozen_sim(2).await;
    let lean = [
        ("localization", "false"),
        ("tickers", "false"),
        ("community_data", "false"),
        ("developer_data", "false"),
    ];

    let full: Value = get(&sim, "/coins/ethereum", &[])
        .await
        .json()
        .await
        .unwrap();
    let text = get(&sim, "/coins/ethereum", &lean)
        .await
        .text()
        .await
        .unwrap();
    let simple = prices(&sim, &[("ids", "ethereum"), ("vs_currencies", "usd")]).await;
    let unknown = get(&sim, "/coins/no-such-coin", &[]).await;

    for key in [
        "localization",
        "tickers",
        "market_data",
        "community_data",
        "developer_data",
    ] {
        assert!(full.get(key).is_some(), "{key} by default");
    }
    let lean: Value = serde_json::from_str(&text).unwrap();
    for key in [
        "localization",
        "tickers",
        "community_data",
        "developer_data",
    ] {
        assert!(lean.get(key).is_none(), "{key} dropped");
    }
    let data = &lean["market_data"];
    assert!(data["max_supply"].is_null());
    for map in ["current_price", "market_cap", "total_volume"] {
        assert!(data[map]["usd"].is_number(), "{map}.usd");
        assert!(data[map]["eur"].is_number(), "{map}.eur");
    }
    assert!(data["circulating_supply"].as_f64().unwrap() > 1e8);
    assert!(data["total_supply"].is_number());
    let usd = &text[text.find(r#""current_price":"#).unwrap()..];
    let usd = &usd[usd.find(r#""usd":"#).unwrap() + 6..];
    let usd = &usd[..usd.find([',', '}']).unwrap()];
    assert_eq!(usd, simple["ethereum"]["usd"].get());
    assert_eq!(lean["market_cap_rank"], 2);
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.text().await.unwrap(),
        r#"{"error":"coin not found"}"#
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_markets_and_global() {
    let (a, b) = (frozen_sim(9).await, frozen_sim(9).await);
    for path in [
        "/coins/markets?vs_currency=usd",
        "/global",
        "/coins/bitcoin",
    ] {
        let text = |sim: &coinbeat_sim::SimHandle| {
            let url = format!("{}{path}", sim.base_url());
            async move { fetch(&url, &[]).await.text().await.unwrap() }
        };
        let (x, y) = (text(&a).await, text(&b).await);
        // `/global` and the pages carry the step's start time, equal within a second.
        assert_eq!(strip_times(&x), strip_times(&y), "{path}");
    }
    let first =
        num(&prices(&a, &[("ids", "bitcoin"), ("vs_currencies", "usd")]).await["bitcoin"]["usd"]);
    assert!(first > 0.0);
}

/// Drops `updated_at`/`last_updated` values, which follow the wall clock.
fn strip_times(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest
        .find("\"updated_at\":")
        .or_else(|| rest.find("\"last_updated\":"))
    {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let end = after.find([',', '}']).unwrap();
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}
