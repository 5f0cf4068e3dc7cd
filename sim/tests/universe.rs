//! The coin universe over real HTTP: CoinGecko's `/coins/list` (with and without platforms),
//! a 14,000-coin catalogue paged completely through `/coins/markets` and CoinLore's
//! `/tickers/`, shared tickers, and coins that move in rank (`set_rank`), vanish and come back
//! (`unlist`/`relist`, churn epochs) on every provider at once.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use coinbeat_sim::{SimConfig, SimHandle, Stats, StreamConfig};
use common::{fetch, fetch_json, get, sim_get, sim_post, start};
use serde_json::{Value, json};

/// A frozen sim with `extra_coins` synthetic coins.
async fn universe(extra_coins: u32) -> SimHandle {
    start(SimConfig {
        step_ms: 0,
        extra_coins,
        ..SimConfig::default()
    })
    .await
}

async fn coins_list(sim: &SimHandle, query: &[(&str, &str)]) -> Vec<Value> {
    let response = get(sim, "/coins/list", query).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn markets_page(sim: &SimHandle, page: usize) -> Vec<Value> {
    let page = page.to_string();
    let query = [
        ("vs_currency", "usd"),
        ("per_page", "250"),
        ("page", page.as_str()),
    ];
    let response = get(sim, "/coins/markets", &query).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn coinlore_page(sim: &SimHandle, start: usize) -> Value {
    let start = start.to_string();
    let url = format!("{}/tickers/", sim.coinlore_url());
    fetch_json(&url, &[("start", start.as_str()), ("limit", "100")]).await
}

fn ids(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap().to_owned())
        .collect()
}

async fn control(sim: &SimHandle, body: Value) -> reqwest::Response {
    sim_post(sim, "/sim/control", body).await
}

#[tokio::test]
async fn coins_list_names_every_coin_once_by_id_with_lower_case_tickers_some_shared() {
    let sim = universe(3_000).await;

    let plain = coins_list(&sim, &[]).await;
    let with_platforms = coins_list(&sim, &[("include_platform", "true")]).await;

    assert_eq!(plain.len(), 3_015);
    let listed = ids(&plain, "id");
    assert!(listed.is_sorted(), "sorted by id");
    assert_eq!(listed.iter().collect::<BTreeSet<_>>().len(), listed.len());
    let mut holders: BTreeMap<&str, usize> = BTreeMap::new();
    for coin in &plain {
        let keys: Vec<&str> = coin
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "name", "symbol"], "{coin}");
        let symbol = coin["symbol"].as_str().unwrap();
        assert!(
            symbol
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && (2..=6).contains(&symbol.len()),
            "{symbol}"
        );
        *holders.entry(symbol).or_default() += 1;
    }
    let shared: usize = holders.values().filter(|&&n| n > 1).sum();
    assert!(
        (30..300).contains(&shared),
        "{shared} of 3,015 coins share a ticker"
    );
    let bitcoin = plain.iter().find(|c| c["id"] == "bitcoin").unwrap();
    assert_eq!(
        *bitcoin,
        json!({"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"})
    );

    assert_eq!(ids(&with_platforms, "id"), listed);
    let platforms =
        |id: &str| with_platforms.iter().find(|c| c["id"] == id).unwrap()["platforms"].clone();
    assert_eq!(platforms("bitcoin"), json!({}));
    assert_eq!(
        platforms("tether")["ethereum"],
        "0xdac17f958d2ee523a2206206994597c13d831ec7"
    );
    assert_eq!(
        platforms("bonk"),
        json!({"solana": "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"})
    );
    let mut chains: BTreeMap<String, usize> = BTreeMap::new();
    for coin in &with_platforms {
        for (chain, address) in coin["platforms"].as_object().expect("an object") {
            let address = address.as_str().unwrap();
            let ok = match chain.as_str() {
                "" => address.is_empty(),
                "solana" => (32..=44).contains(&address.len()),
                "tron" => address.starts_with('T'),
                _ => {
                    address.len() == 42
                        && address.starts_with("0x")
                        && address[2..]
                            .chars()
                            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
                }
            };
            assert!(ok, "{}: {chain} {address}", coin["id"]);
            *chains.entry(chain.clone()).or_default() += 1;
        }
    }
    assert!(chains["ethereum"] > 800, "{chains:?}");
    assert!(
        chains["solana"] > 300 && chains["binance-smart-chain"] > 300,
        "{chains:?}"
    );
    assert!(
        chains[""] > 30,
        "some natives are {{\"\": \"\"}}: {chains:?}"
    );

    let stats: Stats = sim_get(&sim, "/sim/stats").await;
    assert_eq!(stats.by_endpoint["/api/v3/coins/list"], 2);
}

#[tokio::test]
async fn a_coin_page_names_the_home_chain_and_the_contracts_the_list_gives() {
    let sim = universe(200).await;
    let list = coins_list(&sim, &[("include_platform", "true")]).await;
    let token = list
        .iter()
        .find(|c| {
            c["id"].as_str().unwrap().starts_with("sim-coin-")
                && c["platforms"].as_object().unwrap().len() == 2
        })
        .expect("a synthetic token on two chains");
    let id = token["id"].as_str().unwrap();
    let page = |id: &str| {
        let url = format!("{}/coins/{id}", sim.base_url());
        async move { fetch_json(&url, &[("tickers", "false"), ("market_data", "false")]).await }
    };

    let (token_page, tether, bitcoin) =
        (page(id).await, page("tether").await, page("bitcoin").await);

    assert_eq!(token_page["platforms"], token["platforms"]);
    let (home, address) = token["platforms"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(token_page["asset_platform_id"], home.as_str());
    assert_eq!(
        token_page["detail_platforms"][home]["contract_address"],
        *address
    );
    assert!(token_page["detail_platforms"][home]["decimal_place"].is_u64());
    assert_eq!(tether["asset_platform_id"], "ethereum");
    assert_eq!(tether["detail_platforms"]["ethereum"]["decimal_place"], 6);
    assert!(bitcoin["asset_platform_id"].is_null());
    assert_eq!(bitcoin["platforms"], json!({"": ""}));
}

#[tokio::test]
async fn fourteen_thousand_coins_page_completely_and_alike_on_coingecko_and_coinlore() {
    let sim = universe(14_000).await;
    let listed: BTreeSet<String> = ids(&coins_list(&sim, &[]).await, "id")
        .into_iter()
        .collect();
    assert_eq!(listed.len(), 14_015);

    let mut markets = Vec::new();
    for page in 1..=57 {
        let rows = markets_page(&sim, page).await;
        assert_eq!(rows.len(), if page < 57 { 250 } else { 15 }, "page {page}");
        markets.extend(rows);
    }
    let past_the_end = markets_page(&sim, 58).await;
    let mut coinlore = Vec::new();
    let mut coins_num = Vec::new();
    for start in (0..14_015).step_by(100) {
        let page = coinlore_page(&sim, start).await;
        coins_num.push(page["info"]["coins_num"].as_u64().unwrap());
        coinlore.extend(page["data"].as_array().unwrap().iter().cloned());
    }

    assert!(past_the_end.is_empty());
    let ranks: Vec<u64> = markets
        .iter()
        .map(|r| r["market_cap_rank"].as_u64().unwrap())
        .collect();
    assert!(ranks.iter().copied().eq(1..=14_015), "ranks 1..N in order");
    let by_coingecko = ids(&markets, "id");
    assert_eq!(
        by_coingecko.iter().cloned().collect::<BTreeSet<_>>(),
        listed
    );
    assert!(
        coins_num.iter().all(|&n| n == 14_015),
        "coins_num is the listed count"
    );
    let coinlore_ranks: Vec<u64> = coinlore
        .iter()
        .map(|r| r["rank"].as_u64().unwrap())
        .collect();
    assert!(coinlore_ranks.iter().copied().eq(1..=14_015));
    assert_eq!(
        ids(&coinlore, "nameid"),
        by_coingecko,
        "CoinLore ranks by market cap too"
    );
    let sub_cent = markets
        .iter()
        .filter(|r| r["current_price"].as_f64().unwrap() < 0.01)
        .count();
    assert!(sub_cent > 3_000, "{sub_cent} sub-cent coins");
    assert_eq!(
        markets[0]["id"], "bitcoin",
        "no synthetic coin outweighs bitcoin"
    );
    let stats: Stats = sim_get(&sim, "/sim/stats").await;
    assert_eq!(stats.by_endpoint["/api/v3/coins/markets"], 58);
    assert_eq!(stats.by_endpoint["/api/tickers/"], 141);
    assert_eq!(stats.rate_limited, 0, "the sim rejected nothing");
}

#[tokio::test]
async fn set_rank_moves_a_coin_from_the_long_tail_to_the_top_on_both_providers() {
    let sim = universe(5_000).await;
    let page_12 = markets_page(&sim, 12).await;
    let coin = page_12.last().unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(page_12.last().unwrap()["market_cap_rank"], 3_000);
    let price = |sim: &SimHandle| {
        let coin = coin.clone();
        let url = format!("{}/simple/price", sim.base_url());
        async move {
            fetch(&url, &[("ids", coin.as_str()), ("vs_currencies", "usd")])
                .await
                .text()
                .await
                .unwrap()
        }
    };
    let before = price(&sim).await;

    let moved = control(&sim, json!({"set_rank": {"id": coin, "rank": 5}})).await;
    let unknown = control(
        &sim,
        json!({"set_rank": {"id": "sim-coin-99999", "rank": 5}}),
    )
    .await;
    let zero = control(&sim, json!({"set_rank": {"id": coin, "rank": 0}})).await;

    assert_eq!(moved.status(), 200);
    let first = markets_page(&sim, 1).await;
    let row = first
        .iter()
        .find(|r| r["id"] == coin.as_str())
        .expect("on page 1");
    assert_eq!(row["market_cap_rank"], 5);
    let lore = coinlore_page(&sim, 0).await;
    let lore_row = lore["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["nameid"] == coin.as_str())
        .expect("on CoinLore's first page");
    assert_eq!(lore_row["rank"], 5);
    assert_eq!(price(&sim).await, before, "its price did not move");
    let ranks: Vec<u64> = first
        .iter()
        .map(|r| r["market_cap_rank"].as_u64().unwrap())
        .collect();
    assert!(ranks.iter().copied().eq(1..=250), "ranks stay 1..N");
    assert_eq!(unknown.status(), 400);
    let message: Value = unknown.json().await.unwrap();
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("sim-coin-99999"),
        "{message}"
    );
    assert_eq!(zero.status(), 400);

    let back = control(&sim, json!({"set_rank": {"id": coin, "rank": 4_000}})).await;
    assert_eq!(back.status(), 200);
    let page_16 = markets_page(&sim, 16).await;
    let row = page_16
        .iter()
        .find(|r| r["id"] == coin.as_str())
        .expect("on page 16");
    assert_eq!(row["market_cap_rank"], 4_000);
}

#[tokio::test]
async fn an_unlisted_coin_vanishes_from_every_provider_and_a_relisted_one_returns() {
    let sim = start(SimConfig {
        step_ms: 0,
        extra_coins: 300,
        streams: StreamConfig {
            list_synthetic_on_binance: true,
            ..StreamConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let list = coins_list(&sim, &[]).await;
    // A synthetic coin with a ticker of its own, so it has a Binance pair.
    let coin = list
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("sim-coin-"))
        .find(|c| list.iter().filter(|o| o["symbol"] == c["symbol"]).count() == 1)
        .unwrap();
    let id = coin["id"].as_str().unwrap().to_owned();
    let pair = format!("{}USDT", coin["symbol"].as_str().unwrap().to_uppercase());
    let seen = |sim: &SimHandle| {
        let (id, pair) = (id.clone(), pair.clone());
        let (base, lore, binance) = (sim.base_url(), sim.coinlore_url(), sim.binance_url());
        async move {
            let listed = fetch_json(&format!("{base}/coins/list"), &[]).await;
            let markets = fetch_json(
                &format!("{base}/coins/markets"),
                &[("vs_currency", "usd"), ("per_page", "250"), ("page", "2")],
            )
            .await;
            let markets_1 = fetch_json(
                &format!("{base}/coins/markets"),
                &[("vs_currency", "usd"), ("per_page", "250")],
            )
            .await;
            let price = fetch_json(
                &format!("{base}/simple/price"),
                &[("ids", &id), ("vs_currencies", "usd")],
            )
            .await;
            let page = fetch(&format!("{base}/coins/{id}"), &[]).await.status();
            let tickers = fetch_json(&format!("{lore}/tickers/"), &[("limit", "100")]).await;
            let mut lore_ids = Vec::new();
            for start in ["0", "100", "200", "300"] {
                let page = fetch_json(&format!("{lore}/tickers/"), &[("start", start)]).await;
                lore_ids.extend(ids(page["data"].as_array().unwrap(), "nameid"));
            }
            let ticker = fetch(
                &format!("{binance}/api/v3/ticker/price"),
                &[("symbol", &pair)],
            )
            .await
            .status();
            let in_markets = [markets, markets_1]
                .iter()
                .any(|m| m.as_array().unwrap().iter().any(|r| r["id"] == id.as_str()));
            let count = listed.as_array().unwrap().len() as u64;
            (
                count,
                listed
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["id"] == id.as_str()),
                in_markets,
                price.get(&id).is_some(),
                page.as_u16(),
                (
                    tickers["info"]["coins_num"].as_u64().unwrap(),
                    lore_ids.contains(&id),
                ),
                ticker.as_u16(),
            )
        }
    };
    assert_eq!(
        seen(&sim).await,
        (315, true, true, true, 200, (315, true), 200)
    );

    let unlisted = control(&sim, json!({"unlist": id})).await;
    assert_eq!(unlisted.status(), 200);
    assert_eq!(
        seen(&sim).await,
        (314, false, false, false, 404, (314, false), 400)
    );
    let page = get(&sim, &format!("/coins/{id}"), &[]).await;
    assert_eq!(page.text().await.unwrap(), r#"{"error":"coin not found"}"#);
    let inactive = coins_list(&sim, &[("status", "inactive")]).await;
    assert_eq!(ids(&inactive, "id"), std::slice::from_ref(&id));

    let relisted = control(&sim, json!({"relist": id})).await;
    assert_eq!(relisted.status(), 200);
    assert_eq!(
        seen(&sim).await,
        (315, true, true, true, 200, (315, true), 200)
    );

    let builtin = control(&sim, json!({"unlist": "bitcoin"})).await;
    assert_eq!(builtin.status(), 400);
    let unknown = control(&sim, json!({"relist": "sim-coin-00301"})).await;
    assert_eq!(unknown.status(), 400);
    let typo = control(&sim, json!({"unlisted": id})).await;
    assert!(
        typo.status().is_client_error(),
        "unknown fields are refused"
    );
}

#[tokio::test]
async fn each_churn_epoch_unlists_about_one_percent_and_brings_earlier_ones_back() {
    let sim = universe(5_000).await;
    let snapshot = |sim: &SimHandle| {
        let base = sim.base_url();
        async move {
            let list = fetch_json(&format!("{base}/coins/list"), &[]).await;
            ids(list.as_array().unwrap(), "id")
                .into_iter()
                .collect::<BTreeSet<String>>()
        }
    };
    let everything = snapshot(&sim).await;
    assert_eq!(everything.len(), 5_015, "the first epoch lists every coin");
    control(&sim, json!({"advance_steps": 100})).await;
    assert_eq!(snapshot(&sim).await, everything, "price steps do not churn");

    assert_eq!(
        control(&sim, json!({"advance_churn_epochs": 1}))
            .await
            .status(),
        200
    );
    let one = snapshot(&sim).await;
    assert_eq!(
        control(&sim, json!({"advance_churn_epochs": 1}))
            .await
            .status(),
        200
    );
    let two = snapshot(&sim).await;

    let vanished: BTreeSet<&String> = everything.difference(&one).collect();
    assert!(
        (20..90).contains(&vanished.len()),
        "{} vanished",
        vanished.len()
    );
    assert!(
        vanished.iter().all(|id| id.starts_with("sim-coin-")),
        "built-in coins stay"
    );
    let back = vanished
        .iter()
        .filter(|id| two.contains(id.as_str()))
        .count();
    assert!(
        back > vanished.len() / 2,
        "{back} of {} back",
        vanished.len()
    );
    assert!(everything.difference(&two).count() > 20, "others vanished");
    let markets = markets_page(&sim, two.len().div_ceil(250)).await;
    let last = markets.last().unwrap()["market_cap_rank"].as_u64().unwrap();
    assert_eq!(
        last as usize,
        two.len(),
        "ranks count the listed coins only"
    );

    let still = universe(10).await;
    let refused = control(&still, json!({"advance_churn_epochs": 1})).await;
    assert_eq!(refused.status(), 200, "the default config churns");
    let no_churn = start(SimConfig {
        step_ms: 0,
        extra_coins: 10,
        churn_epoch_secs: 0,
        ..SimConfig::default()
    })
    .await;
    let refused = control(&no_churn, json!({"advance_churn_epochs": 1})).await;
    assert_eq!(refused.status(), 400);
}
