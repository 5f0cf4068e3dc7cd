//! The coin catalogue through the API: `GET /v1/coins` (ranked, searched, paged) and every
//! price route naming a coin by id or by symbol, a shared symbol answering the best-ranked coin
//! with the others as alternatives.

use std::collections::BTreeMap;

use chrono::Utc;
use coinbeat_shared::{
    catalogue::{CatalogueCoin, CatalogueStore},
    domain::CoinId,
    keys::Keys,
    redis_conn,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, Api, assert_error, json as json_of, record};

fn coin(id: &str, symbol: &str, name: &str, rank: Option<u32>) -> CatalogueCoin {
    CatalogueCoin {
        id: CoinId::parse(id).unwrap(),
        symbol: symbol.into(),
        name: name.into(),
        rank,
        market_cap_usd: None,
        platforms: BTreeMap::new(),
    }
}

/// A small market: two coins listed as `BTC`, a bridged `ETH`, and an unranked tail.
async fn catalogue(api: &Api) {
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let store = CatalogueStore::new(conn, Keys::new(api.settings.redis.key_prefix.clone()));
    let mut coins = vec![
        coin("bitcoin", "BTC", "Bitcoin", Some(1)),
        coin("ethereum", "ETH", "Ethereum", Some(2)),
        coin("bitcoin-cash", "BCH", "Bitcoin Cash", Some(15)),
        coin("batcat", "BTC", "Batcat", Some(2_500)),
        coin("bridged-ether", "ETH", "Bridged Ether", Some(3_000)),
    ];
    coins.extend((1..=300).map(|i| {
        coin(
            &format!("tail-{i:03}"),
            &format!("T{i}"),
            &format!("Tail {i}"),
            None,
        )
    }));
    store
        .replace(&coins, "coingecko", Utc::now(), 50)
        .await
        .unwrap();
}

fn ids(coins: &Value) -> Vec<&str> {
    coins
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_catalogue_is_listed_best_ranked_first_searched_and_paged() {
    let api = Api::start().await;
    let (status, body) = api.get("/v1/coins?search=bit").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["catalogue"], Value::Null, "before the first refresh");
    assert_eq!(body["coins"], serde_json::json!([]));

    catalogue(&api).await;
    // Within a second every API process sees the new catalogue.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (status, body) = api.get("/v1/coins?search=bit").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body["coins"]), ["bitcoin", "bitcoin-cash"]);
    assert_eq!(body["catalogue"]["coins"], 305);
    assert_eq!(body["catalogue"]["source"], "coingecko");
    let (_, body) = api.get("/v1/coins?search=BTC").await;
    assert_eq!(
        ids(&body["coins"]),
        ["bitcoin", "batcat"],
        "by symbol, ranked"
    );

    // Every coin, once, over pages of 100 that follow `next_cursor`.
    let mut seen = Vec::new();
    let mut path = "/v1/coins?limit=100".to_owned();
    loop {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(ids(&body["coins"]).into_iter().map(str::to_owned));
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/coins?limit=100&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 305);
    assert_eq!(&seen[..3], ["bitcoin", "ethereum", "bitcoin-cash"]);
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 305);

    for bad in ["limit=0", "limit=1001", "limit=x", "cursor=nonsense"] {
        let (status, body) = api.get(&format!("/v1/coins?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
}

#[tokio::test]
async fn a_price_is_named_by_id_or_symbol_and_a_shared_symbol_lists_its_alternatives() {
    let api = Api::start().await;
    catalogue(&api).await;
    let now = Utc::now();
    let mut batcat = record("BTC", "0.0004", now);
    batcat.coin_id = CoinId::parse("batcat").unwrap();
    api.write(&[record("BTC", "97000.5", now), batcat]).await;

    let (status, by_id) = api.get("/v1/prices/bitcoin").await;
    assert_eq!(status, StatusCode::OK, "{by_id}");
    assert_eq!(by_id["usd"], "97000.5");
    assert!(by_id.get("alternatives").is_none(), "an id names one coin");

    for symbol in ["BTC", "btc"] {
        let (status, body) = api.get(&format!("/v1/prices/{symbol}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["coin_id"], "bitcoin", "the best-ranked BTC");
        assert_eq!(body["alternatives"][0]["id"], "batcat");
        assert_eq!(body["alternatives"][0]["rank"], 2_500);
    }
    let (status, body) = api.get("/v1/prices/batcat").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["usd"], "0.0004");

    // Catalogued but never fetched: 404 that says so; not catalogued at all: 404 unknown_coin.
    let (status, body) = api.get("/v1/prices/bridged-ether").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "not_fetched_yet");
    let (status, body) = api.get("/v1/prices/dogecoin").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "unknown_coin");

    // Lists by id, and the live stream's snapshot by id.
    let (status, body) = api.get("/v1/prices?ids=batcat,bitcoin,dogecoin").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids_of(&body["prices"]), ["batcat", "bitcoin"]);
    assert_eq!(body["missing"][0]["coin_id"], "dogecoin");
    assert_eq!(body["missing"][0]["reason"], "unknown_coin");
    let (status, body) = api.get("/v1/prices?ids=Bad_Id").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Both lists: the coins of both, a coin both name once (as its symbol named it).
    let (status, body) = api.get("/v1/prices?ids=bitcoin,batcat&symbols=BTC").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids_of(&body["prices"]), ["bitcoin", "batcat"], "{body}");
    assert_eq!(body["prices"][0]["symbol"], "BTC", "{body}");
}

fn ids_of(prices: &Value) -> Vec<&str> {
    prices
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["coin_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn any_catalogued_coin_can_be_asked_for_by_id_or_symbol_and_tracked() {
    let api = Api::start().await;
    catalogue(&api).await;

    // BCH is no symbol of `[prices.coins]`: the catalogue names it.
    for args in [
        json!({"ids": ["bitcoin-cash", "batcat"]}),
        json!({"symbols": ["BCH"]}),
    ] {
        let body = json!({"kind": "prices", "args": args});
        let (status, answer) = json_of(api.post("/v1/tasks", &body).await).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{args}: {answer}");
    }
    let body = json!({"kind": "prices", "args": {"symbols": ["BCH", "NOPE"]}});
    let (status, answer) = json_of(api.post("/v1/tasks", &body).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_error(&answer, "unknown_coin");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("NOPE"),
        "{answer}"
    );
    let body = json!({"kind": "prices", "args": {"ids": ["Not An Id"]}});
    let (status, answer) = json_of(api.post("/v1/tasks", &body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    // Tracking: several at once; one unknown symbol refuses the whole request.
    let add = |symbols: Value| {
        api.http
            .post(api.url("/v1/admin/symbols"))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({ "symbols": symbols }))
            .send()
    };
    let (status, answer) = json_of(add(json!(["BCH", "NOPE"])).await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_error(&answer, "unmappable_symbol");
    let (status, answer) = json_of(add(json!(["bch", "T7"])).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let tracked: Vec<&str> = answer["tracked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(&tracked[tracked.len() - 2..], ["BCH", "T7"]);
    assert!(!tracked.contains(&"NOPE"));
}

#[tokio::test]
async fn a_tier_lists_its_coins_by_rank_a_page_at_a_time_and_every_list_pages() {
    let api = Api::start().await;
    catalogue(&api).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let now = Utc::now();
    let mut tail = record("T1", "0.00000042", now);
    tail.coin_id = CoinId::parse("tail-001").unwrap();
    tail.source = "coinlore".into();
    api.write(&[record("BTC", "97000.5", now), tail]).await;

    // The default tiers: top is ranks 1-100, rest 5001+ and the unranked; the tracked coins
    // (bitcoin and ethereum among them) are a tier of their own, so top holds bitcoin-cash.
    let (status, body) = api.get("/v1/prices?tier=top").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["prices"], json!([]), "{body}");
    let missing: Vec<(&str, &str)> = body["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["coin_id"].as_str().unwrap(),
                m["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(missing, [("bitcoin-cash", "not_fetched_yet")]);
    assert_eq!(body["next_cursor"], Value::Null);

    // The rest, 300 unranked coins, in pages; the cursors walk it once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/prices?tier=rest&limit=120".to_owned(),
            Some(c) => format!("/v1/prices?tier=rest&limit=120&cursor={c}"),
        };
        let (status, body) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for p in body["prices"].as_array().unwrap() {
            seen.push(p["coin_id"].as_str().unwrap().to_owned());
        }
        for m in body["missing"].as_array().unwrap() {
            seen.push(m["coin_id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=300).map(|i| format!("tail-{i:03}")).collect();
    assert_eq!(seen, expected);
    let (_, body) = api.get("/v1/prices?tier=rest&limit=1").await;
    assert_eq!(body["prices"][0]["source"], "coinlore", "{body}");
    assert_eq!(body["prices"][0]["usd"], "0.00000042", "{body}");

    // `all` is the whole catalogue by rank; a plain list pages by position when asked to.
    let (_, body) = api.get("/v1/prices?tier=all&limit=2").await;
    assert_eq!(body["prices"][0]["coin_id"], "bitcoin");
    assert_eq!(body["missing"][0]["coin_id"], "ethereum");
    let next = body["next_cursor"].as_str().unwrap();
    let (_, body) = api
        .get(&format!("/v1/prices?tier=all&limit=2&cursor={next}"))
        .await;
    assert_eq!(body["missing"][0]["coin_id"], "bitcoin-cash", "{body}");
    let (_, body) = api
        .get("/v1/prices?ids=ethereum,bitcoin,tail-001&limit=2")
        .await;
    assert_eq!(body["next_cursor"], "2", "{body}");
    assert_eq!(body["prices"][0]["coin_id"], "bitcoin", "{body}");
    let (_, body) = api
        .get("/v1/prices?ids=ethereum,bitcoin,tail-001&limit=2&cursor=2")
        .await;
    assert_eq!(body["prices"][0]["coin_id"], "tail-001", "{body}");
    assert_eq!(body["next_cursor"], Value::Null);
    let (status, body) = api.get("/v1/prices").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["next_cursor"],
        Value::Null,
        "the tracked set is one list"
    );

    // Bad input is a 4xx that says what is wrong.
    let (status, body) = api.get("/v1/prices?tier=nope").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "unknown_tier");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("top"),
        "{body}"
    );
    let (status, body) = api.get("/v1/prices?tier=top&cursor=x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_cursor");
    // A list's cursor past its end is its (empty) last page.
    let (status, body) = api.get("/v1/prices?ids=bitcoin&cursor=9").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["prices"], json!([]), "{body}");
    assert_eq!(body["missing"], json!([]), "{body}");
    assert_eq!(body["next_cursor"], Value::Null, "{body}");
    let (status, body) = api.get("/v1/prices?ids=bitcoin&cursor=x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_cursor");
    let (status, body) = api.get("/v1/prices?tier=top&limit=5000").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "invalid_limit");
    // A list names its coins, so it wins over a tier (whose name must still be right), and
    // `symbols` and `ids` together list the coins of both.
    let (status, body) = api.get("/v1/prices?tier=top&ids=bitcoin").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["prices"][0]["coin_id"], "bitcoin", "{body}");
    assert_eq!(body["prices"].as_array().unwrap().len(), 1, "{body}");
    let (status, body) = api.get("/v1/prices?tier=nope&ids=bitcoin").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "unknown_tier");
    let (status, body) = api.get("/v1/prices?symbols=ETH&ids=bitcoin,ethereum").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["prices"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["prices"][0]["coin_id"], "bitcoin", "{body}");
    // ethereum, named by both lists, is listed once (uncached here), as its symbol named it.
    assert_eq!(body["missing"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["missing"][0]["coin_id"], "ethereum", "{body}");
    assert_eq!(body["missing"][0]["symbol"], "ETH", "{body}");
}
