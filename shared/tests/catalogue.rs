//! The catalogue store against a real, private redis-server: a refresh replaces the catalogue
//! whole, newest-wins, refuses a listing that shrank past the guard, and readers see either
//! the old catalogue or the new one.

mod common;

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use coinbeat_shared::{
    catalogue::{CatalogueCoin, CatalogueError, CatalogueStore, CoinIndex, Written},
    domain::CoinId,
    keys::Keys,
    testing::TestRedis,
};

use common::connect;

fn coins(n: u32, symbol_every: u32) -> Vec<CatalogueCoin> {
    (1..=n)
        .map(|i| CatalogueCoin {
            id: CoinId::parse(&format!("coin-{i:05}")).unwrap(),
            // Every `symbol_every`th coin shares the symbol `DUP`.
            symbol: if i % symbol_every == 0 {
                "DUP".into()
            } else {
                format!("C{i}")
            },
            name: format!("Coin {i}"),
            rank: (i <= n / 2).then_some(i),
            market_cap_usd: None,
            platforms: if i % 3 == 0 {
                BTreeMap::from([("ethereum".into(), format!("0x{i:040x}"))])
            } else {
                BTreeMap::new()
            },
        })
        .collect()
}

async fn store() -> (
    TestRedis,
    CatalogueStore,
    redis::aio::ConnectionManager,
    Keys,
) {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let (conn, keys) = connect(&settings).await;
    let store = CatalogueStore::new(conn.clone(), keys.clone());
    (redis, store, conn, keys)
}

#[tokio::test]
async fn a_refresh_replaces_the_catalogue_whole_and_leaves_no_staging_behind() {
    let (_redis, store, mut conn, keys) = store().await;
    assert_eq!(store.meta().await.unwrap(), None);
    assert!(store.load().await.unwrap().is_empty());

    let t0 = Utc::now();
    let first = coins(1_000, 50);
    let written = store.replace(&first, "coingecko", t0, 50).await.unwrap();
    assert_eq!(written, Written::Replaced { previous: 0 });
    let meta = store.meta().await.unwrap().unwrap();
    assert_eq!((meta.coins, meta.ranked), (1_000, 500));
    assert_eq!(meta.source, "coingecko");
    assert_eq!(meta.refreshed_at.timestamp_millis(), t0.timestamp_millis());

    let mut loaded = store.load().await.unwrap();
    loaded.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(loaded, first, "every field round-trips");
    let one = CoinId::parse("coin-00003").unwrap();
    assert_eq!(store.get(&one).await.unwrap().unwrap().platforms.len(), 1);

    // A later refresh with 900 coins replaces it: the 100 missing coins are gone.
    let second = coins(900, 50);
    let t1 = t0 + Duration::seconds(1);
    let written = store.replace(&second, "coinlore", t1, 50).await.unwrap();
    assert_eq!(written, Written::Replaced { previous: 1_000 });
    assert_eq!(store.load().await.unwrap().len(), 900);
    let gone = CoinId::parse("coin-00950").unwrap();
    assert_eq!(store.get(&gone).await.unwrap(), None);

    let staging: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:catalogue:staging:*", keys.prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(staging.is_empty(), "{staging:?}");
}

#[tokio::test]
async fn an_older_refresh_changes_nothing_and_a_truncated_listing_is_refused() {
    let (_redis, store, mut conn, keys) = store().await;
    let t0 = Utc::now();
    store
        .replace(&coins(1_000, 50), "coingecko", t0, 50)
        .await
        .unwrap();

    // A refresh that began before the stored one finishes late: nothing changes.
    let late = store
        .replace(&coins(800, 50), "coingecko", t0 - Duration::seconds(5), 50)
        .await
        .unwrap();
    assert_eq!(late, Written::Older);
    assert_eq!(store.meta().await.unwrap().unwrap().coins, 1_000);

    // 499 of 1,000 is under half: refused, with the numbers.
    let error = store
        .replace(&coins(499, 50), "coingecko", t0 + Duration::seconds(1), 50)
        .await
        .unwrap_err();
    match &error {
        CatalogueError::Shrank {
            previous, staged, ..
        } => assert_eq!((*previous, *staged), (1_000, 499)),
        other => panic!("expected Shrank, got {other:?}"),
    }
    assert!(error.to_string().contains("499"), "{error}");
    assert_eq!(store.load().await.unwrap().len(), 1_000);
    let staging: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:catalogue:staging:*", keys.prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(staging.is_empty(), "{staging:?}");

    // With the guard off (0 %) the same listing is accepted.
    let written = store
        .replace(&coins(499, 50), "coingecko", t0 + Duration::seconds(2), 0)
        .await
        .unwrap();
    assert_eq!(written, Written::Replaced { previous: 1_000 });
}

#[tokio::test]
async fn the_index_built_from_the_store_resolves_colliding_symbols_to_the_best_ranked_coin() {
    let (_redis, store, _conn, _keys) = store().await;
    store
        .replace(&coins(1_000, 50), "coingecko", Utc::now(), 50)
        .await
        .unwrap();
    let index = CoinIndex::new(store.load().await.unwrap(), &BTreeMap::new());
    assert_eq!(index.len(), 1_000);
    let dup = index.resolve("dup").unwrap();
    assert_eq!(
        dup.coin.id.as_str(),
        "coin-00050",
        "rank 50 is the best-ranked DUP"
    );
    // 20 coins are DUP: the chosen one and 19 alternatives, ranked ones first.
    assert_eq!(dup.alternatives.len(), 19);
    assert_eq!(dup.alternatives[0].id.as_str(), "coin-00100");
    assert_eq!(index.ranked()[0].id.as_str(), "coin-00001");
    assert!(index.ranked()[999].rank.is_none());
}
