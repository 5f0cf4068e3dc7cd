//! The market worker against the simulator and a real, private redis-server: the top-N in pages
//! with the exact digits served, the global figures and the tracked coins' supply, and the
//! CoinLore fallback when CoinGecko is down.

#[path = "common/simulated.rs"]
mod simulated;

use coinbeat_shared::{
    Settings, cache::MarketCache, domain::CoinId, jobs::MarketJob, queue::JobError,
    testing::TestRedis,
};
use coinbeat_sim::{ControlRequest, Provider, SimConfig, SimHandle};
use coinbeat_workers::{boot::WorkerEnv, market::MarketWorker};
use simulated::{Upstream, simulated};

struct Ctx {
    _redis: TestRedis,
    sim: SimHandle,
    settings: Settings,
    worker: MarketWorker,
    cache: MarketCache,
}

async fn setup() -> Ctx {
    let (redis, sim, settings) = simulated(
        SimConfig {
            extra_coins: 300,
            ..SimConfig::default()
        },
        &[Upstream::CoinGecko, Upstream::CoinLore],
    )
    .await;
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    let (conn, keys) = (env.conn.clone(), env.keys.clone());
    Ctx {
        _redis: redis,
        worker: MarketWorker::new(&env).unwrap(),
        cache: MarketCache::new(conn, keys, &settings.markets),
        sim,
        settings,
    }
}

fn tracked_ids(settings: &Settings) -> Vec<String> {
    let mut ids: Vec<String> = settings
        .prices
        .tracked
        .iter()
        .filter_map(|s| settings.prices.coin_id(s).map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[tokio::test]
async fn the_top_n_global_figures_and_supply_come_from_coingecko_with_the_digits_served() {
    let ctx = setup().await;
    let result = ctx
        .worker
        .handle(MarketJob {
            limit: 300,
            supply: true,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["source"], "coingecko", "{result}");
    assert_eq!(result["rows"], 300, "{result}");
    assert_eq!(result["global"]["written"], true, "{result}");
    let tracked = tracked_ids(&ctx.settings);
    assert_eq!(result["supply"]["written"], tracked.len(), "{result}");

    let stats = ctx.sim.stats();
    assert_eq!(
        stats.by_endpoint["/api/v3/coins/markets"], 2,
        "300 rows in pages of 250"
    );

    let snapshot = ctx
        .cache
        .snapshot()
        .await
        .unwrap()
        .expect("snapshot cached");
    assert_eq!(snapshot.source, "coingecko");
    assert_eq!(snapshot.rows.len(), 300);
    assert_eq!(snapshot.rows[0].rank, Some(1));
    // `/coins/{id}` also records a served price for tracked coins; compare the others.
    let served = ctx.sim.served().coingecko;
    let mut compared = 0;
    for row in snapshot
        .rows
        .iter()
        .filter(|r| !tracked.contains(&r.coin_id))
    {
        let price = row.price_usd.expect("a price");
        assert_eq!(
            price.to_string(),
            served[&row.coin_id].usd,
            "{}",
            row.coin_id
        );
        compared += 1;
    }
    assert!(compared > 250, "compared {compared}");

    let global = ctx.cache.global().await.unwrap().expect("global cached");
    assert_eq!(global.source, "coingecko");
    assert!(global.total_market_cap_usd.unwrap() > rust_decimal::Decimal::ZERO);
    // CoinGecko lists dominance for the top 10 only; with the sim's extra coins BTC may be out.
    let btc_in_top_10 = snapshot.rows[..10].iter().any(|r| r.coin_id == "bitcoin");
    assert_eq!(
        global.btc_dominance_pct.is_some(),
        btc_in_top_10,
        "{global:?}"
    );
    assert!(global.active_cryptocurrencies.is_some(), "{global:?}");

    let btc = ctx
        .cache
        .supply(&CoinId::parse("bitcoin").unwrap())
        .await
        .unwrap()
        .expect("bitcoin supply cached");
    assert_eq!(btc.max_supply.unwrap().to_string(), "21000000");
    assert!(btc.circulating_supply.is_some());
    let eth = ctx
        .cache
        .supply(&CoinId::parse("ethereum").unwrap())
        .await
        .unwrap()
        .expect("ethereum supply cached");
    assert_eq!(eth.max_supply, None, "ethereum is uncapped");
}

#[tokio::test]
async fn when_coingecko_is_down_the_top_n_and_global_figures_come_from_coinlore_and_supplies_are_missing()
 {
    let ctx = setup().await;
    ctx.sim
        .control(&ControlRequest {
            provider: Some(Provider::CoinGecko),
            down: Some(true),
            ..ControlRequest::default()
        })
        .unwrap();
    let result = ctx
        .worker
        .handle(MarketJob {
            limit: 150,
            supply: true,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["source"], "coinlore", "{result}");
    assert_eq!(result["fallback"]["source"], "coinlore", "{result}");
    assert_eq!(result["global"]["written"], true, "{result}");
    assert_eq!(result["global"]["source"], "coinlore", "{result}");
    let tracked = tracked_ids(&ctx.settings);
    assert_eq!(
        result["supply"]["missing"].as_array().unwrap().len(),
        tracked.len(),
        "{result}"
    );

    let snapshot = ctx
        .cache
        .snapshot()
        .await
        .unwrap()
        .expect("snapshot cached");
    assert_eq!(snapshot.source, "coinlore");
    assert_eq!(snapshot.rows.len(), 150, "two CoinLore pages of 100");
    // By id: tickers collide in the simulator's universe, as on CoinLore.
    let served = ctx.sim.served().coinlore_by_nameid;
    for row in &snapshot.rows {
        assert_eq!(
            row.price_usd.unwrap().to_string(),
            served[&row.coin_id].usd,
            "{}",
            row.coin_id
        );
    }
    // CoinLore's `/global/` figures, with the digits it sent.
    let global = ctx.cache.global().await.unwrap().expect("global cached");
    assert_eq!(global.source, "coinlore");
    let served: serde_json::Value = reqwest::get(format!("{}/global/", ctx.sim.coinlore_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        global.active_cryptocurrencies,
        served[0]["coins_count"].as_u64()
    );
    let btc_d = global.btc_dominance_pct.expect("dominance").to_string();
    let served_btc_d = served[0]["btc_d"].as_str().unwrap();
    let (ours, theirs): (f64, f64) = (btc_d.parse().unwrap(), served_btc_d.parse().unwrap());
    assert!(
        (ours - theirs).abs() < 1.0,
        "{btc_d} against {served_btc_d}"
    );
    assert!(global.total_market_cap_usd.unwrap() > rust_decimal::Decimal::ZERO);
}

#[tokio::test]
async fn with_both_upstreams_down_the_job_fails_and_writes_nothing() {
    let ctx = setup().await;
    for provider in [Provider::CoinGecko, Provider::CoinLore] {
        ctx.sim
            .control(&ControlRequest {
                provider: Some(provider),
                down: Some(true),
                ..ControlRequest::default()
            })
            .unwrap();
    }
    let error = ctx
        .worker
        .handle(MarketJob {
            limit: 10,
            supply: true,
        })
        .await
        .unwrap_err();
    assert!(!matches!(error, JobError::Permanent(_)), "{error:?}");
    assert_eq!(ctx.cache.snapshot().await.unwrap(), None);
}

#[tokio::test]
async fn without_supply_a_run_is_one_page_and_global_figures() {
    let ctx = setup().await;
    let result = ctx
        .worker
        .handle(MarketJob {
            limit: 100,
            supply: false,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["supply"], "not asked", "{result}");
    let stats = ctx.sim.stats();
    let coin_calls: u64 = stats
        .by_endpoint
        .iter()
        .filter(|(endpoint, _)| {
            endpoint.starts_with("/api/v3/coins/") && !endpoint.ends_with("markets")
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(coin_calls, 0, "{stats:?}");
    assert_eq!(stats.by_endpoint["/api/v3/coins/markets"], 1, "{stats:?}");
    assert_eq!(stats.by_endpoint["/api/v3/global"], 1, "{stats:?}");
}

#[tokio::test]
async fn a_limit_outside_1_to_1000_is_rejected_without_retry() {
    let ctx = setup().await;
    for limit in [0, 1001] {
        let error = ctx
            .worker
            .handle(MarketJob {
                limit,
                supply: true,
            })
            .await
            .unwrap_err();
        assert!(matches!(error, JobError::Permanent(_)), "{error:?}");
    }
}

/// An empty top list from CoinGecko would replace a good snapshot (newest wins) with nothing:
/// it counts as a failure, and CoinLore's list is used instead.
#[tokio::test]
async fn an_empty_top_list_is_a_failure_not_an_empty_snapshot() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};
    let coingecko = MockServer::start().await;
    Mock::given(path("/coins/markets"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&coingecko)
        .await;
    let ctx = setup().await;
    let mut settings = ctx.settings.clone();
    settings.providers.coingecko.base_url = coingecko.uri();
    let env = WorkerEnv::connect(settings).await.unwrap();
    let worker = MarketWorker::new(&env).unwrap();

    let result = worker
        .handle(MarketJob {
            limit: 10,
            supply: true,
        })
        .await
        .unwrap()
        .unwrap();

    assert_eq!(result["source"], "coinlore", "{result}");
    assert_eq!(result["rows"], 10, "{result}");
    let reason = result["fallback"]["reason"].as_str().unwrap();
    assert!(reason.contains("empty"), "{reason}");
}
