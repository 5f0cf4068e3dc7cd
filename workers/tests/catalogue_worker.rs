//! The catalogue worker against the simulator's universe and a real, private redis-server:
//! every listed coin with CoinGecko's ranks down to the configured depth and its contracts, the
//! CoinLore listing when CoinGecko is down, and a coin's rank following the market at the next
//! refresh.

#[path = "common/simulated.rs"]
mod simulated;

use std::collections::{BTreeMap, HashSet};

use coinbeat_shared::{
    Settings,
    catalogue::{CatalogueStore, CoinIndex},
    jobs::CatalogueJob,
    testing::TestRedis,
};
use coinbeat_sim::{ControlRequest, Provider, SetRank, SimConfig, SimHandle};
use coinbeat_workers::{boot::WorkerEnv, catalogue::CatalogueWorker};
use serde_json::Value;
use simulated::{Upstream, simulated};

/// Synthetic coins on top of the built-in ones.
const EXTRA: u32 = 2_000;

struct Ctx {
    _redis: TestRedis,
    sim: SimHandle,
    worker: CatalogueWorker,
    store: CatalogueStore,
    settings: Settings,
}

async fn setup(rank_depth: u32) -> Ctx {
    let (redis, sim, mut settings) = simulated(
        SimConfig {
            extra_coins: EXTRA,
            ..SimConfig::default()
        },
        &[Upstream::CoinGecko, Upstream::CoinLore],
    )
    .await;
    // Pages go at twice the shortest window's gap: 200 ms here, 10 ms from CoinLore.
    settings.providers.coingecko.rate_limit = "600/min".into();
    settings.providers.coinlore.rate_limit = "200/s".into();
    settings.catalogue.rank_depth = rank_depth;
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    Ctx {
        _redis: redis,
        worker: CatalogueWorker::new(&env).unwrap(),
        store: CatalogueStore::new(env.conn.clone(), env.keys.clone()),
        sim,
        settings,
    }
}

/// What the simulator lists right now: `/coins/list` with platforms.
async fn listed(sim: &SimHandle) -> Vec<Value> {
    reqwest::get(format!(
        "{}/coins/list?include_platform=true",
        sim.base_url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

/// The simulator's current `market_cap_rank` of `id`, from `/coins/markets`.
async fn sim_rank(sim: &SimHandle, id: &str) -> u64 {
    let rows: Vec<Value> = reqwest::get(format!(
        "{}/coins/markets?vs_currency=usd&ids={id}",
        sim.base_url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    rows[0]["market_cap_rank"].as_u64().unwrap()
}

async fn load_index(ctx: &Ctx) -> CoinIndex {
    CoinIndex::new(ctx.store.load().await.unwrap(), &ctx.settings.prices.coins)
}

#[tokio::test]
async fn every_listed_coin_is_catalogued_with_ranks_to_the_depth_in_the_fewest_calls() {
    let ctx = setup(1_000).await;
    let result = ctx.worker.handle(CatalogueJob {}).await.unwrap().unwrap();
    assert_eq!(result["source"], "coingecko", "{result}");
    // The list, then four pages paced 200 ms apart (as CoinGecko saw them arrive).
    let arrivals = ctx.sim.arrivals(Provider::CoinGecko);
    assert_eq!(arrivals.len(), 5, "{arrivals:?}");
    for pair in arrivals[1..].windows(2) {
        assert!(
            pair[1] - pair[0] >= 190_000,
            "pages {} µs apart",
            pair[1] - pair[0]
        );
    }

    let listing = listed(&ctx.sim).await;
    assert_eq!(result["coins"], listing.len(), "{result}");
    assert_eq!(result["ranked"], 1_000, "{result}");
    let stats = ctx.sim.stats();
    assert_eq!(
        stats.by_endpoint["/api/v3/coins/list"], 2,
        "ours and the test's"
    );
    assert_eq!(
        stats.by_endpoint["/api/v3/coins/markets"], 4,
        "1,000 ranks in pages of 250"
    );
    assert!(
        !stats.by_endpoint.contains_key("/api/tickers/"),
        "{stats:?}"
    );

    let meta = ctx.store.meta().await.unwrap().unwrap();
    assert_eq!((meta.coins as usize, meta.ranked), (listing.len(), 1_000));
    let index = load_index(&ctx).await;
    let ids: HashSet<&str> = listing.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let catalogued: HashSet<&str> = index.ranked().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, catalogued);

    // Ranks are the simulator's, best first, 1..=1000 without a gap.
    let ranks: Vec<u32> = index.ranked().iter().filter_map(|c| c.rank).collect();
    assert_eq!(ranks, (1..=1_000).collect::<Vec<u32>>());
    let bitcoin = index.resolve("bitcoin").unwrap().coin;
    assert_eq!(
        u64::from(bitcoin.rank.unwrap()),
        sim_rank(&ctx.sim, "bitcoin").await
    );
    assert!(bitcoin.market_cap_usd.is_some());

    // Contracts as listed; symbols upper case; colliding symbols resolve to the best-ranked.
    let usdc = index.resolve("usd-coin").unwrap().coin;
    let listed_usdc = listing.iter().find(|c| c["id"] == "usd-coin").unwrap();
    assert_eq!(
        usdc.platforms,
        serde_json::from_value::<BTreeMap<String, String>>(listed_usdc["platforms"].clone())
            .unwrap()
    );
    assert!(!usdc.platforms.is_empty());
    let mut by_symbol: BTreeMap<String, usize> = BTreeMap::new();
    for coin in index.ranked() {
        assert_eq!(coin.symbol, coin.symbol.to_uppercase());
        *by_symbol.entry(coin.symbol.clone()).or_default() += 1;
    }
    let (shared, _) = by_symbol
        .iter()
        .find(|(_, n)| **n > 1)
        .expect("the simulator's universe has colliding symbols");
    let lookup = index.resolve(shared).unwrap();
    assert!(!lookup.alternatives.is_empty());
    for other in &lookup.alternatives {
        assert!(other.rank_order() > lookup.coin.rank_order(), "{shared}");
    }
}

#[tokio::test]
async fn with_coingecko_down_the_catalogue_comes_from_coinlore() {
    let ctx = setup(1_000).await;
    ctx.sim
        .control(&ControlRequest {
            provider: Some(Provider::CoinGecko),
            down: Some(true),
            ..ControlRequest::default()
        })
        .unwrap();
    let result = ctx.worker.handle(CatalogueJob {}).await.unwrap().unwrap();
    assert_eq!(result["source"], "coinlore", "{result}");
    assert!(
        result["fallback"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{result}"
    );
    let meta = ctx.store.meta().await.unwrap().unwrap();
    assert_eq!(meta.source, "coinlore");
    // Every coin CoinLore lists, each with its rank; CoinLore pages hold 100 coins.
    let listed = u64::from(EXTRA) + 15;
    assert!(meta.coins >= listed * 98 / 100, "{meta:?}");
    assert_eq!(meta.coins, meta.ranked);
    let pages = ctx.sim.stats().by_endpoint["/api/tickers/"];
    assert_eq!(
        pages,
        meta.coins.div_ceil(100) + u64::from(meta.coins % 100 == 0)
    );
    let index = load_index(&ctx).await;
    assert_eq!(index.resolve("BTC").unwrap().coin.id.as_str(), "bitcoin");
}

#[tokio::test]
async fn a_coin_that_climbs_in_the_market_climbs_in_the_catalogue_at_the_next_refresh() {
    let ctx = setup(250).await;
    ctx.worker.handle(CatalogueJob {}).await.unwrap().unwrap();
    let index = load_index(&ctx).await;
    let climber = index
        .ranked()
        .iter()
        .find(|c| c.rank.is_none() && c.id.as_str().starts_with("sim-coin-"))
        .expect("an unranked synthetic coin")
        .id
        .clone();

    ctx.sim
        .control(&ControlRequest {
            set_rank: Some(SetRank {
                id: climber.to_string(),
                rank: 5,
            }),
            ..ControlRequest::default()
        })
        .unwrap();
    ctx.worker.handle(CatalogueJob {}).await.unwrap().unwrap();
    let index = load_index(&ctx).await;
    let rank = index.get(&climber).unwrap().rank.expect("ranked now");
    assert!((4..=6).contains(&rank), "{climber} at {rank}");

    // Gone from the market, gone from the catalogue.
    ctx.sim
        .control(&ControlRequest {
            unlist: Some(climber.to_string()),
            ..ControlRequest::default()
        })
        .unwrap();
    ctx.worker.handle(CatalogueJob {}).await.unwrap().unwrap();
    assert_eq!(ctx.store.get(&climber).await.unwrap(), None);
}
