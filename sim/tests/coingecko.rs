//! CoinGecko's `/ping` and `/simple/price` over real HTTP: wire format, numbers, determinism.

mod common;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use coinbeat_sim::{ControlRequest, SimConfig, Stats};
use common::{ALL_FLAGS, frozen_sim, get, num, prices, sim_get, start};

#[tokio::test]
async fn ping_says_to_the_moon_as_json() {
    let sim = frozen_sim(1).await;

    let response = get(&sim, "/ping", &[]).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"gecko_says":"(V3) To the Moon!"}"#
    );
}

#[tokio::test]
async fn simple_price_with_every_flag_answers_the_documented_keys_once_per_coin() {
    let sim = frozen_sim(1).await;
    let mut query = vec![
        ("ids", "bitcoin,ethereum"),
        ("vs_currencies", "usd"),
        ("precision", "full"),
    ];
    query.extend(ALL_FLAGS);

    let response = get(&sim, "/simple/price", &query).await;
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert!(response.headers().contains_key("cache-control"));
    let text = response.text().await.unwrap();
    let body: common::RawPrices = serde_json::from_str(&text).unwrap();

    let coins: Vec<&str> = body.keys().map(String::as_str).collect();
    assert_eq!(coins, ["bitcoin", "ethereum"]);
    let expected: BTreeSet<&str> = [
        "usd",
        "usd_market_cap",
        "usd_24h_vol",
        "usd_24h_change",
        "last_updated_at",
    ]
    .into();
    for (id, fields) in &body {
        let keys: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(keys, expected, "keys of {id}");
    }
    // Keys come in CoinGecko's order: price, cap, volume, change, then the time once.
    let btc = &text[..text.find("ethereum").unwrap()];
    let positions: Vec<usize> = [
        "\"usd\"",
        "usd_market_cap",
        "usd_24h_vol",
        "usd_24h_change",
        "last_updated_at",
    ]
    .iter()
    .map(|key| btc.find(key).unwrap())
    .collect();
    assert!(positions.is_sorted(), "order in {btc}");

    let btc = &body["bitcoin"];
    let price = num(&btc["usd"]);
    assert!((80_000.0..110_000.0).contains(&price), "bitcoin at {price}");
    let cap = num(&btc["usd_market_cap"]);
    assert!((1.5e12..2.2e12).contains(&cap), "bitcoin market cap {cap}");
    let volume = num(&btc["usd_24h_vol"]);
    assert!(volume > 1e9 && volume < cap, "bitcoin volume {volume}");
    assert!(num(&btc["usd_24h_change"]).abs() < 20.0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64;
    assert!((num(&btc["last_updated_at"]) - now).abs() <= 5.0);
    assert!(
        !btc["last_updated_at"].get().contains('.'),
        "unix seconds are an integer"
    );
    // Full precision: many significant digits.
    assert!(
        btc["usd"].get().replace('.', "").len() >= 10,
        "bitcoin full price {}",
        btc["usd"].get()
    );
}

#[tokio::test]
async fn the_tracked_coins_have_realistic_prices() {
    let sim = frozen_sim(1).await;
    let expected = [
        ("tether", 0.99, 1.01),
        ("tron", 0.2, 0.3),
        ("bitcoin", 80_000.0, 110_000.0),
        ("litecoin", 80.0, 120.0),
        ("usd-coin", 0.99, 1.01),
        ("ethereum", 3_000.0, 4_000.0),
        ("worldcoin-wld", 1.6, 2.4),
        ("polygon-ecosystem-token", 0.4, 0.6),
        ("optimism", 1.6, 2.4),
        ("solana", 160.0, 240.0),
        ("binancecoin", 550.0, 750.0),
        ("avalanche-2", 32.0, 48.0),
    ];
    let ids: Vec<&str> = expected.iter().map(|(id, ..)| *id).collect();

    let body = prices(&sim, &[("ids", &ids.join(",")), ("vs_currencies", "usd")]).await;

    assert_eq!(body.len(), expected.len());
    for (id, low, high) in expected {
        let price = num(&body[id]["usd"]);
        assert!((low..=high).contains(&price), "{id} at {price}");
    }
}

#[tokio::test]
async fn unknown_ids_are_left_out_and_only_unknown_ids_give_an_empty_object() {
    let sim = frozen_sim(1).await;

    let mixed = prices(
        &sim,
        &[
            ("ids", "bitcoin,no-such-coin,Ethereum"),
            ("vs_currencies", "usd"),
        ],
    )
    .await;
    let unknown = get(
        &sim,
        "/simple/price",
        &[("ids", "no-such-coin"), ("vs_currencies", "usd")],
    )
    .await;

    assert_eq!(mixed.keys().collect::<Vec<_>>(), ["bitcoin"]);
    assert_eq!(unknown.status(), 200);
    assert_eq!(unknown.text().await.unwrap(), "{}");
}

#[tokio::test]
async fn spaces_around_commas_are_tolerated_and_unknown_currencies_are_omitted() {
    let sim = frozen_sim(1).await;

    let body = prices(
        &sim,
        &[
            ("ids", " bitcoin , solana "),
            ("vs_currencies", "usd, eur ,xyz"),
        ],
    )
    .await;

    assert_eq!(body.keys().collect::<Vec<_>>(), ["bitcoin", "solana"]);
    let sol = &body["solana"];
    assert_eq!(sol.keys().collect::<Vec<_>>(), ["eur", "usd"]);
    let ratio = num(&sol["eur"]) / num(&sol["usd"]);
    assert!((ratio - 0.92).abs() < 0.001, "eur/usd {ratio}");
}

#[tokio::test]
async fn sub_cent_prices_are_plain_decimals_with_their_significant_digits() {
    let sim = frozen_sim(1).await;
    let ids = ("ids", "shiba-inu,pepe,bonk");

    for precision in [None, Some("full")] {
        let mut query = vec![ids, ("vs_currencies", "usd")];
        query.extend(precision.map(|p| ("precision", p)));
        let body = prices(&sim, &query).await;

        assert_eq!(body.len(), 3);
        for (id, fields) in &body {
            let text = fields["usd"].get();
            assert!(text.starts_with("0.0000"), "{id} sent as {text}");
            assert!(
                !text.contains(['e', 'E']),
                "{id} in exponent notation: {text}"
            );
            let significant = text.trim_start_matches(['0', '.']);
            let wanted = if precision.is_some() { 10 } else { 4 };
            assert!(
                significant.len() >= wanted,
                "{id} has only {text} at {precision:?}"
            );
            assert!(num(&fields["usd"]) > 0.0);
        }
    }
    let shib = prices(&sim, &[("ids", "shiba-inu"), ("vs_currencies", "usd")]).await;
    let price = num(&shib["shiba-inu"]["usd"]);
    assert!(
        (0.000_018..0.000_026).contains(&price),
        "shiba-inu at {price}"
    );
}

#[tokio::test]
async fn a_numeric_precision_is_that_many_decimal_places() {
    let sim = frozen_sim(1).await;

    let body = prices(
        &sim,
        &[
            ("ids", "ethereum"),
            ("vs_currencies", "usd"),
            ("precision", "2"),
        ],
    )
    .await;

    let text = body["ethereum"]["usd"].get();
    let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
    assert!(decimals <= 2, "ethereum at precision 2: {text}");
}

#[tokio::test]
async fn the_same_seed_and_steps_give_the_same_prices_and_another_seed_does_not() {
    let (a, b, other) = (
        frozen_sim(7).await,
        frozen_sim(7).await,
        frozen_sim(8).await,
    );
    let query = [
        ("ids", "bitcoin,ethereum,tether,pepe"),
        ("vs_currencies", "usd"),
        ("precision", "full"),
    ];
    let text = |sim| async move {
        common::get(sim, "/simple/price", &query)
            .await
            .text()
            .await
            .unwrap()
    };
    let before = text(&a).await;

    for sim in [&a, &b, &other] {
        sim.control(&ControlRequest {
            advance_steps: Some(25),
            ..Default::default()
        })
        .unwrap();
    }

    let (a, b, other) = (text(&a).await, text(&b).await, text(&other).await);
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert_ne!(a, before, "25 steps move prices");
}

#[tokio::test]
async fn missing_ids_or_vs_currencies_is_a_400_with_an_error_body() {
    let sim = frozen_sim(1).await;

    let no_ids = get(&sim, "/simple/price", &[("vs_currencies", "usd")]).await;
    let no_vs = get(&sim, "/simple/price", &[("ids", "bitcoin")]).await;

    assert_eq!(no_ids.status(), 400);
    assert_eq!(
        no_ids.text().await.unwrap(),
        r#"{"error":"Missing parameter ids"}"#
    );
    assert_eq!(no_vs.status(), 400);
    assert_eq!(
        no_vs.text().await.unwrap(),
        r#"{"error":"Missing parameter vs_currencies"}"#
    );
}

#[tokio::test]
async fn a_thousand_ids_in_one_request_are_all_answered() {
    let sim = start(SimConfig {
        step_ms: 0,
        extra_coins: 10_000,
        ..SimConfig::default()
    })
    .await;
    let ids: Vec<String> = (1..=1000).map(|n| format!("sim-coin-{n:05}")).collect();

    let body = prices(&sim, &[("ids", &ids.join(",")), ("vs_currencies", "usd")]).await;

    assert_eq!(body.len(), 1000);
    assert!(body.values().all(|coin| num(&coin["usd"]) > 0.0));
    let stats: Stats = sim_get(&sim, "/sim/stats").await;
    assert_eq!(stats.ids_requested, 1000);
}
