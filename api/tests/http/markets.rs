//! `GET /v1/markets`, `GET /v1/markets/global` and `GET /v1/coins/{id}`.

use chrono::{DateTime, Duration, Utc};
use coinbeat_shared::{
    cache::{CoinSupply, GlobalStats, MarketCache, MarketRow, MarketSnapshot},
    domain::CoinId,
    keys::Keys,
    redis_conn,
};
use reqwest::StatusCode;

use crate::support::{Api, assert_error};

/// The market cache of the deployment, on its own connection (as a worker has).
async fn cache(api: &Api) -> MarketCache {
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    MarketCache::new(
        conn,
        Keys::new(api.settings.redis.key_prefix.clone()),
        &api.settings.markets,
    )
}

fn row(rank: u32, id: &str, price: &str) -> MarketRow {
    MarketRow {
        coin_id: id.into(),
        symbol: id[..3].into(),
        name: id.into(),
        rank: Some(rank),
        price_usd: Some(price.parse().unwrap()),
        market_cap_usd: Some("1381651251183.25".parse().unwrap()),
        volume_24h_usd: Some("20154184933".parse().unwrap()),
        change_24h_pct: Some("-3.12502".parse().unwrap()),
        circulating_supply: Some("19675987.5".parse().unwrap()),
        total_supply: None,
        max_supply: None,
        upstream_updated_at: None,
    }
}

fn snapshot(rows: usize, fetched_at: DateTime<Utc>, source: &str) -> MarketSnapshot {
    MarketSnapshot {
        rows: (1..=rows as u32)
            .map(|i| row(i, &format!("coin-{i:04}"), &format!("{i}.000123")))
            .collect(),
        fetched_at,
        source: source.into(),
    }
}

#[tokio::test]
async fn the_top_n_is_served_with_exact_decimals_age_and_source() {
    let api = Api::start().await;
    let cache = cache(&api).await;
    assert!(
        cache
            .write_snapshot(&snapshot(150, Utc::now(), "coinlore"))
            .await
            .unwrap()
    );

    let (status, body) = api.get("/v1/markets").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["source"], "coinlore");
    assert_eq!(body["stale"], false);
    assert_eq!(body["limit"], 100);
    assert_eq!(body["available"], 150);
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 100, "the default limit");
    assert_eq!(rows[0]["coin_id"], "coin-0001");
    assert_eq!(rows[0]["price_usd"], "1.000123");
    assert_eq!(rows[0]["market_cap_usd"], "1381651251183.25");
    assert_eq!(rows[0]["max_supply"], serde_json::Value::Null);

    let (status, body) = api.get("/v1/markets?limit=3").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"].as_array().unwrap().len(), 3);
    let (_, body) = api.get("/v1/markets?limit=1000").await;
    assert_eq!(body["rows"].as_array().unwrap().len(), 150, "all there is");
}

#[tokio::test]
async fn an_older_snapshot_never_replaces_a_newer_one_and_old_ones_are_stale() {
    let api = Api::start().await;
    let cache = cache(&api).await;
    let old = Utc::now() - Duration::hours(3);
    assert!(
        cache
            .write_snapshot(&snapshot(5, old, "coingecko"))
            .await
            .unwrap()
    );
    assert!(
        !cache
            .write_snapshot(&snapshot(9, old - Duration::seconds(1), "coinlore"))
            .await
            .unwrap()
    );
    let (_, body) = api.get("/v1/markets").await;
    assert_eq!(body["source"], "coingecko");
    assert_eq!(
        body["stale"], true,
        "three hours are past the 2-hour window (markets.fresh_secs)"
    );
    assert!(body["age_seconds"].as_u64().unwrap() >= 3 * 3_600);
}

#[tokio::test]
async fn a_limit_outside_1_to_1000_is_422() {
    let api = Api::start().await;
    for bad in ["0", "1001", "ten", "-5"] {
        let (status, body) = api.get(&format!("/v1/markets?limit={bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_error(&body, "invalid_limit");
    }
}

#[tokio::test]
async fn nothing_cached_is_404_with_how_to_request_it() {
    let api = Api::start().await;
    let (status, body) = api.get("/v1/markets").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "markets_not_fetched");
    assert_eq!(body["error"]["details"]["body"]["kind"], "market");

    let (status, body) = api.get("/v1/markets/global").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "global_not_fetched");

    let (status, body) = api.get("/v1/coins/bitcoin").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "coin_not_fetched");
    assert_eq!(body["error"]["details"]["tracked"], true, "{body}");
    assert_eq!(body["error"]["details"]["request"]["url"], "/v1/tasks");

    let (status, body) = api.get("/v1/coins/some-untracked-coin").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["details"]["tracked"], false, "{body}");
}

#[tokio::test]
async fn a_malformed_coin_id_is_422() {
    let api = Api::start().await;
    for bad in ["Bitcoin", "-btc", "a:b"] {
        let (status, body) = api.get(&format!("/v1/coins/{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_error(&body, "invalid_coin_id");
    }
}

#[tokio::test]
async fn global_figures_and_supply_are_served_as_written() {
    let api = Api::start().await;
    let cache = cache(&api).await;
    let now = Utc::now();
    cache
        .write_global(&GlobalStats {
            total_market_cap_usd: Some("2515268352188.766".parse().unwrap()),
            total_volume_usd: Some("198293501804.3288".parse().unwrap()),
            btc_dominance_pct: Some("60.708".parse().unwrap()),
            eth_dominance_pct: Some("7.155".parse().unwrap()),
            active_cryptocurrencies: Some(17111),
            upstream_updated_at: None,
            fetched_at: now,
            source: "coingecko".into(),
        })
        .await
        .unwrap();
    let eth = CoinId::parse("ethereum").unwrap();
    cache
        .write_supply(
            &eth,
            &CoinSupply {
                coin_id: "ethereum".into(),
                symbol: "eth".into(),
                name: "Ethereum".into(),
                circulating_supply: Some("120278935.0123".parse().unwrap()),
                total_supply: Some("120278935.0123".parse().unwrap()),
                max_supply: None,
                fetched_at: now,
                source: "coingecko".into(),
            },
        )
        .await
        .unwrap();

    let (status, body) = api.get("/v1/markets/global").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total_market_cap_usd"], "2515268352188.766");
    assert_eq!(body["btc_dominance_pct"], "60.708");
    assert_eq!(body["active_cryptocurrencies"], 17111);
    assert_eq!(body["source"], "coingecko");
    assert_eq!(body["stale"], false);

    let (status, body) = api.get("/v1/coins/ethereum").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["coin_id"], "ethereum");
    assert_eq!(body["circulating_supply"], "120278935.0123");
    assert_eq!(body["max_supply"], serde_json::Value::Null);
    assert_eq!(body["source"], "coingecko");
    assert!(body["age_seconds"].as_u64().unwrap() < 60);
}
