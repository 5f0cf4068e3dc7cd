//! Price tiers against the simulator's universe and a real, private redis-server: each tier
//! prices the catalogue's coins of its ranks from its source in the fewest calls that can, and
//! a coin changes tier when a catalogue refresh sees its new rank.

#[path = "common/simulated.rs"]
mod simulated;

use std::collections::BTreeMap;

use coinbeat_shared::{
    Settings,
    cache::PriceCache,
    catalogue::{CatalogueStore, CoinIndex},
    domain::{CoinId, Symbol},
    jobs::{CatalogueJob, PricesJob},
    settings::{TierSettings, TierSource},
    testing::TestRedis,
};
use coinbeat_sim::{ControlRequest, SetRank, SimConfig, SimHandle};
use coinbeat_workers::{boot::WorkerEnv, catalogue::CatalogueWorker, prices::PriceWorker};
use serde_json::Value;
use simulated::{Upstream, simulated};

struct Ctx {
    _redis: TestRedis,
    sim: SimHandle,
    catalogue: CatalogueWorker,
    prices: PriceWorker,
    store: CatalogueStore,
    cache: PriceCache,
    settings: Settings,
}

fn tier(from: u32, to: Option<u32>, source: TierSource) -> TierSettings {
    TierSettings {
        from,
        to,
        every_secs: 60,
        source,
        enabled: true,
    }
}

async fn setup() -> Ctx {
    let (redis, sim, mut settings) = simulated(
        SimConfig {
            extra_coins: 1_000,
            ..SimConfig::default()
        },
        &[Upstream::CoinGecko, Upstream::CoinLore, Upstream::Binance],
    )
    .await;
    settings.providers.coingecko.rate_limit = "600/min".into();
    settings.providers.coinlore.rate_limit = "200/s".into();
    settings.catalogue.rank_depth = 500;
    // Bitcoin is tracked: a tier of its own, left out of the rank tiers.
    settings.prices.tracked = vec![Symbol::parse("BTC").unwrap()];
    settings.prices.tiers = BTreeMap::from([
        ("top".to_owned(), tier(1, Some(20), TierSource::Binance)),
        ("mid".to_owned(), tier(21, Some(300), TierSource::Coinlore)),
        ("tail".to_owned(), tier(301, None, TierSource::Coinlore)),
    ]);
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    Ctx {
        _redis: redis,
        catalogue: CatalogueWorker::new(&env).unwrap(),
        prices: PriceWorker::new(&env).unwrap(),
        store: CatalogueStore::new(env.conn.clone(), env.keys.clone()),
        cache: PriceCache::new(env.conn.clone(), env.keys.clone(), &settings.prices),
        sim,
        settings,
    }
}

impl Ctx {
    async fn refresh_catalogue(&self) {
        self.catalogue
            .handle(CatalogueJob {})
            .await
            .unwrap()
            .unwrap();
    }

    async fn run_tier(&self, name: &str) -> Value {
        run_tier_on(&self.prices, name).await
    }

    /// The id of the catalogued coin at `rank`.
    async fn coin_at(&self, rank: u32) -> CoinId {
        self.index()
            .await
            .ranked()
            .iter()
            .find(|coin| coin.rank == Some(rank))
            .unwrap_or_else(|| panic!("a coin at rank {rank}"))
            .id
            .clone()
    }

    /// Moves `id` to `rank` in the simulator's market (the catalogue sees it at its next refresh).
    fn set_rank(&self, id: &CoinId, rank: u64) {
        self.sim
            .control(&ControlRequest {
                set_rank: Some(SetRank {
                    id: id.to_string(),
                    rank,
                }),
                ..ControlRequest::default()
            })
            .unwrap();
    }

    async fn index(&self) -> CoinIndex {
        CoinIndex::new(
            self.store.load().await.unwrap(),
            &self.settings.prices.coins,
        )
    }

    /// Catalogued coins ranked within `ranks` (a refresh over a moving market can read a coin
    /// on two pages and miss another, so ranks may have a gap).
    async fn ranked_within(&self, ranks: std::ops::RangeInclusive<u32>) -> u64 {
        let index = self.index().await;
        index
            .ranked()
            .iter()
            .filter(|coin| coin.rank.is_some_and(|r| ranks.contains(&r)))
            .count() as u64
    }

    fn calls(&self, endpoint: &str) -> u64 {
        self.sim
            .stats()
            .by_endpoint
            .get(endpoint)
            .copied()
            .unwrap_or_default()
    }
}

/// One run of the tier `name` by `prices`, its result.
async fn run_tier_on(prices: &PriceWorker, name: &str) -> Value {
    prices
        .handle(PricesJob {
            symbols: None,
            ids: None,
            tier: Some(name.to_owned()),
        })
        .await
        .unwrap()
        .unwrap()
}

const BINANCE_TICKERS: &str = "/binance/api/v3/ticker/24hr";
const COINLORE_PAGES: &str = "/api/tickers/";

#[tokio::test]
async fn each_tier_prices_its_ranks_from_its_source_in_the_fewest_calls() {
    let ctx = setup().await;
    ctx.refresh_catalogue().await;
    let index = ctx.index().await;
    let listed = index.len();

    // Top: one Binance call for every pair; the coins Binance lacks from CoinLore's first page;
    // bitcoin, tracked, left to its own tier.
    let top = ctx.run_tier("top").await;
    assert_eq!(top["members"], 19, "{top}");
    assert_eq!(top["written"], 19, "{top}");
    assert_eq!(top["missing"], 0, "{top}");
    assert_eq!(ctx.calls(BINANCE_TICKERS), 1, "{top}");
    let from_binance = top["by_source"]["binance"].as_u64().unwrap_or_default();
    assert!(
        from_binance >= 10,
        "most of the top trade on Binance: {top}"
    );
    assert_eq!(
        top["upstream_requests"]["coinlore"],
        u64::from(from_binance < 19),
        "{top}"
    );
    let bitcoin = CoinId::parse("bitcoin").unwrap();
    assert!(index.get(&bitcoin).unwrap().rank <= Some(20));
    assert!(ctx.cache.get(&bitcoin).await.unwrap().is_none(), "tracked");
    let ether = ctx
        .cache
        .get(&CoinId::parse("ethereum").unwrap())
        .await
        .unwrap()
        .expect("ethereum priced");
    assert_eq!(
        (ether.source.as_str(), ether.symbol.as_str()),
        ("binance", "ETH")
    );

    // Mid: ranks 21-300 are CoinLore's pages 1-3 (a fourth only when a coin's rank moved
    // across a page edge since the catalogue read it).
    let before = ctx.calls(COINLORE_PAGES);
    let mid = ctx.run_tier("mid").await;
    let members = ctx.ranked_within(21..=300).await;
    assert!(members >= 275, "{members}");
    assert_eq!(mid["members"], members, "{mid}");
    assert_eq!(mid["missing"], 0, "{mid}");
    assert_eq!(mid["by_source"]["coinlore"], members, "{mid}");
    let pages = ctx.calls(COINLORE_PAGES) - before;
    assert_eq!(mid["upstream_requests"]["coinlore"], pages, "{mid}");
    assert!((3..=4).contains(&pages), "{pages} pages for ranks 21-300");

    // Tail: everything past 300, the coins catalogued without a rank included, to the end of
    // CoinLore's list.
    let tail = ctx.run_tier("tail").await;
    let members = listed as u64 - ctx.ranked_within(1..=300).await;
    assert!(
        index.get(&bitcoin).unwrap().rank <= Some(20),
        "bitcoin is in the top tier"
    );
    assert_eq!(tail["members"], members, "{tail}");
    assert_eq!(tail["missing"], 0, "{tail}");
    assert_eq!(tail["written"], members, "{tail}");
    let unranked = index
        .ranked()
        .iter()
        .rfind(|coin| coin.rank.is_none())
        .expect("coins past the rank depth are unranked");
    let record = ctx.cache.get(&unranked.id).await.unwrap().expect("priced");
    assert_eq!(record.source, "coinlore");
    assert_eq!(record.symbol, unranked.symbol);
    let fewest = (listed as u64).div_ceil(100) - 3;
    let used = tail["upstream_requests"]["coinlore"].as_u64().unwrap();
    assert!(
        (fewest..=fewest + 2).contains(&used),
        "{used} pages for {members} coins past rank 300"
    );

    // An unknown tier is a permanent failure that names the tiers.
    let error = ctx
        .prices
        .handle(PricesJob {
            symbols: None,
            ids: None,
            tier: Some("nope".into()),
        })
        .await
        .unwrap_err();
    assert!(error.to_string().contains("nope"), "{error}");
}

#[tokio::test]
async fn a_rank_change_moves_a_coin_between_tiers_at_the_next_catalogue_refresh() {
    let ctx = setup().await;
    ctx.refresh_catalogue().await;
    let climber = ctx.coin_at(250).await;

    let top = ctx.run_tier("top").await;
    assert_eq!(top["members"], 19, "{top}");
    assert!(ctx.cache.get(&climber).await.unwrap().is_none());

    // It climbs to 5th in the market: the tiers follow the catalogue, not the market.
    ctx.set_rank(&climber, 5);
    ctx.run_tier("top").await;
    assert!(
        ctx.cache.get(&climber).await.unwrap().is_none(),
        "in the top tier before the catalogue saw it climb"
    );

    ctx.refresh_catalogue().await;
    let rank = ctx.index().await.get(&climber).unwrap().rank.unwrap();
    assert!(rank <= 20, "{climber} at {rank}");
    // A worker rechecks the catalogue every few seconds: the next runs of the top tier take it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let record = loop {
        let top = ctx.run_tier("top").await;
        assert_eq!(top["members"], 19, "{top}");
        if let Some(record) = ctx.cache.get(&climber).await.unwrap() {
            break record;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{climber} not priced by the top tier: {top}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert!(
        ["binance", "coinlore"].contains(&record.source.as_str()),
        "{record:?}"
    );
    // And the mid tier no longer holds it.
    let mid = ctx.run_tier("mid").await;
    assert_eq!(mid["members"], ctx.ranked_within(21..=300).await, "{mid}");
    assert!(ctx.index().await.get(&climber).unwrap().rank < Some(21));
}

#[tokio::test]
async fn a_tier_run_before_the_first_catalogue_waits_for_it() {
    let ctx = setup().await;
    // At first start every tier's entry runs at once, before the catalogue's pages are read.
    let run = tokio::spawn({
        let prices = ctx.prices.clone();
        async move {
            prices
                .handle(PricesJob {
                    tier: Some("top".into()),
                    ..PricesJob::default()
                })
                .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    assert!(!run.is_finished(), "it waits for the catalogue");
    ctx.refresh_catalogue().await;
    let result = tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("done once the catalogue is there")
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(result["members"], 19, "{result}");
    assert_eq!(result["written"], 19, "{result}");
}

#[tokio::test]
async fn a_coin_whose_rank_drifted_off_its_tiers_pages_is_asked_by_its_coinlore_id() {
    let ctx = setup().await;
    ctx.refresh_catalogue().await;
    let drifter = ctx.coin_at(200).await;
    // A first run reads the pages of ranks 21-300 and learns the CoinLore ids on them.
    let first = ctx.run_tier("mid").await;
    assert_eq!(first["missing"], 0, "{first}");
    let before = ctx.cache.get(&drifter).await.unwrap().expect("priced");

    // It falls to about 1,500th, far past the tier's pages and their margin; the catalogue
    // still says 200 until its next refresh.
    ctx.set_rank(&drifter, 1_500);
    let by_id = ctx.calls("/api/ticker/");
    let second = ctx.run_tier("mid").await;
    assert_eq!(second["missing"], 0, "{second}");
    assert_eq!(
        ctx.calls("/api/ticker/") - by_id,
        1,
        "one call by id: {second}"
    );
    let after = ctx.cache.get(&drifter).await.unwrap().expect("priced");
    assert!(after.fetched_at > before.fetched_at, "{after:?}");
    assert_eq!(after.source, "coinlore");
}

#[tokio::test]
async fn a_restarted_worker_asks_a_drifted_coin_by_the_coinlore_id_an_earlier_process_learned() {
    let ctx = setup().await;
    ctx.refresh_catalogue().await;
    let drifter = ctx.coin_at(150).await;
    let first = ctx.run_tier("mid").await;
    assert_eq!(first["missing"], 0, "{first}");
    ctx.set_rank(&drifter, 2_000);

    // A new process: nothing learned in memory, only what the first one stored.
    let env = WorkerEnv::connect(ctx.settings.clone()).await.unwrap();
    let restarted = PriceWorker::new(&env).unwrap();
    let (pages, by_id) = (ctx.calls(COINLORE_PAGES), ctx.calls("/api/ticker/"));
    let second = run_tier_on(&restarted, "mid").await;

    assert_eq!(second["missing"], 0, "{second}");
    assert_eq!(
        (
            ctx.calls(COINLORE_PAGES) - pages,
            ctx.calls("/api/ticker/") - by_id
        ),
        (3, 1),
        "the tier's three pages, then one call by id, no page next to them: {second}"
    );
    let record = ctx.cache.get(&drifter).await.unwrap().expect("priced");
    assert_eq!(record.source, "coinlore");
}
