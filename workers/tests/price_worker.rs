//! The price worker against the simulator and a real, private redis-server: batching, exact
//! decimals, the key header, what upstream errors do to a job, and ids the upstream lacks.

#[path = "common/simulated.rs"]
mod simulated;

use std::collections::BTreeMap;

use coinbeat_shared::{
    Settings,
    cache::PriceCache,
    domain::{CoinId, Symbol},
    jobs::PricesJob,
    settings::{CoinGeckoPlan, PricesSettings, Secret},
    testing::TestRedis,
};
use coinbeat_sim::{ControlRequest, SimConfig, SimHandle};
use coinbeat_workers::{boot::WorkerEnv, prices::PriceWorker};
use simulated::{Upstream, point_at, simulated};

struct Ctx {
    _redis: TestRedis,
    sim: SimHandle,
    settings: Settings,
    worker: PriceWorker,
    cache: PriceCache,
}

async fn setup(tune: impl FnOnce(&mut Settings), sim: SimConfig) -> Ctx {
    let (redis, sim, mut settings) = simulated(sim, &[Upstream::CoinGecko]).await;
    // No fallback unless a test sets one up: the public Binance is not reachable from tests.
    settings.providers.binance.enabled = false;
    tune(&mut settings);
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    let (conn, keys) = (env.conn.clone(), env.keys.clone());
    Ctx {
        _redis: redis,
        worker: PriceWorker::new(&env).unwrap(),
        cache: PriceCache::new(conn, keys, &settings.prices),
        sim,
        settings,
    }
}

fn symbols(list: &[&str]) -> Vec<Symbol> {
    list.iter().map(|s| Symbol::parse(s).unwrap()).collect()
}

#[tokio::test]
async fn the_tracked_set_is_fetched_in_batches_with_the_exact_digits_served() {
    let ctx = setup(
        |s| {
            s.providers.coingecko.max_ids_per_request = 5;
            s.providers.coingecko.api_key = Some(Secret::new("CG-test"));
            s.providers.coingecko.plan = CoinGeckoPlan::Pro;
        },
        SimConfig::default(),
    )
    .await;
    let result = ctx
        .worker
        .handle(PricesJob::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["written"], 12, "{result}");
    assert_eq!(result["upstream_requests"], 3, "12 ids in batches of 5");

    let stats = ctx.sim.stats();
    assert_eq!(stats.by_endpoint["/api/v3/simple/price"], 3);
    assert_eq!(stats.by_auth.get("pro_header"), Some(&3), "{stats:?}");
    assert_eq!(stats.ids_requested, 12);

    let served = ctx.sim.served().coingecko;
    let tracked = ctx.settings.prices.tracked.clone();
    let records = ctx.cache.get_many(&coins(&tracked)).await.unwrap();
    for (symbol, record) in tracked.iter().zip(records) {
        let record = record.unwrap_or_else(|| panic!("{symbol} not cached"));
        let id = ctx.settings.prices.coin_id(symbol).unwrap();
        assert_eq!(record.coin_id.as_str(), id);
        assert_eq!(record.usd.to_string(), served[id].usd, "{symbol}");
        assert_eq!(record.source, "coingecko");
        assert!(record.market_cap_usd.is_some() && record.volume_24h_usd.is_some());
    }
}

#[tokio::test]
async fn sub_cent_coins_keep_their_significant_digits() {
    let ctx = setup(
        |s| {
            s.prices.coins.insert("PEPE".into(), "pepe".into());
            s.prices.coins.insert("SHIB".into(), "shiba-inu".into());
        },
        SimConfig::default(),
    )
    .await;
    let job = PricesJob {
        symbols: Some(symbols(&["PEPE", "SHIB"])),
        ids: None,
        tier: None,
    };
    ctx.worker.handle(job).await.unwrap();
    let served = ctx.sim.served().coingecko;
    for (symbol, id) in [("PEPE", "pepe"), ("SHIB", "shiba-inu")] {
        let record = ctx
            .cache
            .get(&CoinId::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{symbol} not cached"));
        assert!(
            record.usd < rust_decimal::Decimal::new(1, 2),
            "{symbol} is sub-cent"
        );
        assert!(!record.usd.is_zero());
        assert_eq!(record.usd.to_string(), served[id].usd);
    }
}

#[tokio::test]
async fn upstream_errors_fail_the_job_transiently_and_unknown_ids_are_reported() {
    let ctx = setup(
        |s| {
            s.prices.coins.insert("GHOST".into(), "no-such-coin".into());
        },
        SimConfig::default(),
    )
    .await;
    // An id CoinGecko does not know is simply absent: reported, not an error.
    let result = ctx
        .worker
        .handle(PricesJob {
            symbols: Some(symbols(&["BTC", "GHOST"])),
            ids: None,
            tier: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["written"], 1);
    assert_eq!(result["missing"], serde_json::json!(["GHOST"]));

    // Down: a transient error.
    ctx.sim
        .control(&ControlRequest {
            down: Some(true),
            ..Default::default()
        })
        .unwrap();
    let err = ctx.worker.handle(PricesJob::default()).await.unwrap_err();
    assert!(!err.is_permanent(), "{err:?}");
    ctx.sim
        .control(&ControlRequest {
            down: Some(false),
            ..Default::default()
        })
        .unwrap();

    // Rate limited: the job is handed back throttled for the upstream's retry-after (which
    // holds every replica back), nothing made up.
    ctx.sim
        .control(&ControlRequest {
            rate_limit_per_minute: Some(1),
            ..Default::default()
        })
        .unwrap();
    let _ = ctx.worker.handle(PricesJob::default()).await;
    let err = ctx.worker.handle(PricesJob::default()).await.unwrap_err();
    assert!(!err.is_permanent(), "{err:?}");
    assert!(err.reason().contains("rate limit"), "{err:?}");
    let wait = err
        .retry_after()
        .expect("a 429 carries the upstream's retry-after");
    assert!(wait >= std::time::Duration::from_secs(1), "{wait:?}");
}

#[tokio::test]
async fn a_refused_key_is_a_permanent_error() {
    let ctx = setup(
        |s| s.providers.coingecko.api_key = Some(Secret::new("wrong")),
        SimConfig {
            api_keys: vec!["right".into()],
            ..Default::default()
        },
    )
    .await;
    let err = ctx.worker.handle(PricesJob::default()).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    let cached: BTreeMap<_, _> = ctx
        .cache
        .get_many(&coins(&ctx.settings.prices.tracked))
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .map(|r| (r.symbol.clone(), r))
        .collect();
    assert!(cached.is_empty(), "nothing is written without data");
}

#[tokio::test]
async fn with_coingecko_down_prices_come_from_binance_and_say_so() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path, query_param},
    };
    let binance = MockServer::start().await;
    // One unknown pair fails Binance's whole multi-symbol request with -1121 ...
    Mock::given(method("GET"))
        .and(path("/api/v3/ticker/24hr"))
        .and(query_param("symbols", r#"["BTCUSDT","NOPEUSDT"]"#))
        .respond_with(
            ResponseTemplate::new(400).set_body_string(r#"{"code":-1121,"msg":"Invalid symbol."}"#),
        )
        .mount(&binance)
        .await;
    // ... so the client asks pair by pair and leaves the unknown one out.
    Mock::given(method("GET"))
        .and(path("/api/v3/ticker/24hr"))
        .and(query_param("symbol", "BTCUSDT"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"symbol":"BTCUSDT","priceChangePercent":"-1.250","lastPrice":"95176.59000000",
               "quoteVolume":"1189707.37500000","closeTime":1700086400000}"#,
        ))
        .mount(&binance)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ticker/24hr"))
        .and(query_param("symbol", "NOPEUSDT"))
        .respond_with(
            ResponseTemplate::new(400).set_body_string(r#"{"code":-1121,"msg":"Invalid symbol."}"#),
        )
        .mount(&binance)
        .await;

    let ctx = setup(
        |s| {
            s.providers.binance.enabled = true;
            s.providers.binance.base_url = binance.uri();
            s.prices.coins.insert("NOPE".into(), "nope".into());
        },
        SimConfig::default(),
    )
    .await;
    ctx.sim
        .control(&ControlRequest {
            down: Some(true),
            ..Default::default()
        })
        .unwrap();
    let result = ctx
        .worker
        .handle(PricesJob {
            symbols: Some(symbols(&["BTC", "NOPE", "USDT"])),
            ids: None,
            tier: None,
        })
        .await
        .expect("the fallback answers")
        .unwrap();
    assert_eq!(result["fallback"]["source"], "binance", "{result}");
    assert!(
        result["fallback"]["reason"]
            .as_str()
            .unwrap()
            .contains("unavailable")
    );
    assert_eq!(result["written"], 1);
    // USDT has no USDT pair and NOPE is not listed: both reported, neither made up.
    assert_eq!(result["missing"], serde_json::json!(["NOPE", "USDT"]));
    let btc = ctx
        .cache
        .get(&coin(&Symbol::parse("BTC").unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(btc.source, "binance");
    assert_eq!(btc.usd.to_string(), "95176.59000000");
    assert_eq!(btc.change_24h_pct.unwrap().to_string(), "-1.250");
    assert_eq!(btc.coin_id.as_str(), "bitcoin");
    assert!(
        ctx.cache
            .get(&coin(&Symbol::parse("USDT").unwrap()))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn when_the_fallback_fails_too_the_job_fails_with_coingeckos_error() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};
    let binance = MockServer::start().await;
    Mock::given(path("/api/v3/ticker/24hr"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .mount(&binance)
        .await;
    let ctx = setup(
        |s| {
            s.providers.binance.enabled = true;
            s.providers.binance.base_url = binance.uri();
        },
        SimConfig::default(),
    )
    .await;
    ctx.sim
        .control(&ControlRequest {
            down: Some(true),
            ..Default::default()
        })
        .unwrap();
    let err = ctx.worker.handle(PricesJob::default()).await.unwrap_err();
    assert!(!err.is_permanent(), "{err:?}");
    assert!(err.reason().contains("coingecko"), "{err:?}");
}

/// While CoinGecko's breaker is open (opened by any replica), a price job goes to Binance at
/// once: CoinGecko is not asked at all, and the job does not wait for the breaker's probe.
#[tokio::test]
async fn while_coingeckos_breaker_is_open_prices_go_to_binance_at_once() {
    use coinbeat_shared::{breaker::Breaker, ratelimit::Provider};
    let binance = coinbeat_sim::start(SimConfig::default()).await.unwrap();
    let ctx = setup(
        |s| {
            s.providers.binance.enabled = true;
            s.providers.binance.base_url = binance.binance_url();
            s.upstream.breaker_probe_ms = 60_000;
        },
        SimConfig::default(),
    )
    .await;
    // Another replica saw CoinGecko fail `breaker_failures` times in a row.
    let env = WorkerEnv::connect(ctx.settings.clone()).await.unwrap();
    let breaker = Breaker::new(
        env.conn.clone(),
        &env.keys,
        Provider::CoinGecko,
        &ctx.settings.upstream,
    );
    for _ in 0..ctx.settings.upstream.breaker_failures {
        breaker.record(false).await.unwrap();
    }

    let started = std::time::Instant::now();
    let result = ctx
        .worker
        .handle(PricesJob {
            symbols: Some(symbols(&["BTC", "ETH"])),
            ids: None,
            tier: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{result}"
    );
    assert_eq!(result["fallback"]["source"], "binance", "{result}");
    assert!(
        result["fallback"]["reason"]
            .as_str()
            .unwrap()
            .contains("circuit open"),
        "{result}"
    );
    assert_eq!(ctx.sim.stats().requests_total, 0, "CoinGecko was not asked");
    let btc = ctx
        .cache
        .get(&coins(&symbols(&["BTC"]))[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(btc.source, "binance");
}

/// The whole outage as the fleet lives it: CoinGecko goes down, its breaker opens after
/// `breaker_failures` failed requests, and from then on at most one probe per interval reaches
/// it while every job is served by Binance at once; when CoinGecko returns, the next probe
/// closes the breaker and prices come from CoinGecko again.
#[tokio::test]
async fn an_outage_opens_the_breaker_probes_once_per_interval_and_recovery_closes_it() {
    use coinbeat_shared::{
        breaker::{BreakerState, read_breaker},
        ratelimit::Provider,
    };
    use coinbeat_sim::Provider as SimProvider;
    use std::time::{Duration, Instant};

    const PROBE_MS: u64 = 1_000;
    let binance = coinbeat_sim::start(SimConfig::default()).await.unwrap();
    let ctx = setup(
        |s| {
            s.providers.binance.enabled = true;
            s.providers.binance.base_url = binance.binance_url();
            s.upstream.retries = 0;
            s.upstream.breaker_failures = 3;
            s.upstream.breaker_probe_ms = PROBE_MS;
        },
        SimConfig::default(),
    )
    .await;
    let env = WorkerEnv::connect(ctx.settings.clone()).await.unwrap();
    let job = || PricesJob {
        symbols: Some(symbols(&["BTC"])),
        ids: None,
        tier: None,
    };
    let btc = Symbol::parse("BTC").unwrap();

    ctx.sim
        .control(&ControlRequest {
            provider: Some(SimProvider::CoinGecko),
            down: Some(true),
            ..Default::default()
        })
        .unwrap();
    // 3.5 probe intervals of jobs, one every 50 ms: each is answered by Binance.
    let outage = Instant::now();
    let mut jobs = 0;
    while outage.elapsed() < Duration::from_millis(PROBE_MS * 7 / 2) {
        let result = ctx.worker.handle(job()).await.unwrap().unwrap();
        assert_eq!(result["fallback"]["source"], "binance", "{result}");
        jobs += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        ctx.cache.get(&coin(&btc)).await.unwrap().unwrap().source,
        "binance"
    );
    let snapshot = read_breaker(&env.conn, &env.keys, Provider::CoinGecko)
        .await
        .unwrap();
    assert_eq!(snapshot.state, BreakerState::Open, "{snapshot:?}");
    // 3 failures open it; then one probe per elapsed interval (3 in 3.5 intervals), never one
    // per job.
    let asked = ctx.sim.arrivals(SimProvider::CoinGecko).len();
    assert!(jobs > 30, "{jobs} jobs ran");
    assert!(
        (3..=3 + 4).contains(&asked),
        "{asked} requests reached CoinGecko during the outage ({jobs} jobs)"
    );

    ctx.sim
        .control(&ControlRequest {
            provider: Some(SimProvider::CoinGecko),
            down: Some(false),
            ..Default::default()
        })
        .unwrap();
    let back = Instant::now();
    let result = loop {
        let result = ctx.worker.handle(job()).await.unwrap().unwrap();
        if result["fallback"].is_null() || back.elapsed() > Duration::from_millis(PROBE_MS * 3) {
            break result;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        result["fallback"].is_null(),
        "prices come from CoinGecko again: {result}"
    );
    assert!(back.elapsed() <= Duration::from_millis(PROBE_MS * 2));
    // The cache follows once CoinGecko's price is of a later moment than Binance's last one
    // (records are ordered by the moment they are of: the simulator's CoinGecko stamps whole
    // seconds of its 1 s steps, Binance the moment it answers), not before.
    let flipped = Instant::now();
    loop {
        ctx.worker.handle(job()).await.unwrap().unwrap();
        let source = ctx.cache.get(&coin(&btc)).await.unwrap().unwrap().source;
        if source == "coingecko" {
            break;
        }
        assert!(
            flipped.elapsed() < Duration::from_secs(5),
            "the cache still holds Binance's record 5 s after CoinGecko came back"
        );
        // A job every half second: faster, the keyless CoinGecko limit (30/min) would run out
        // and send jobs back to Binance.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let snapshot = read_breaker(&env.conn, &env.keys, Provider::CoinGecko)
        .await
        .unwrap();
    assert_eq!(
        (snapshot.state, snapshot.closes),
        (BreakerState::Closed, 1),
        "{snapshot:?}"
    );
}

#[tokio::test]
async fn a_job_without_symbols_fetches_the_operators_tracked_set_from_redis() {
    let ctx = setup(|_| {}, SimConfig::default()).await;
    let env = WorkerEnv::connect(ctx.settings.clone()).await.unwrap();
    let prices = &ctx.settings.prices;
    let btc = Symbol::parse("BTC").unwrap();
    for symbol in ctx.settings.prices.tracked.iter().filter(|s| **s != btc) {
        coinbeat_shared::tracked_symbols::remove(&env.conn, &env.keys, prices, symbol)
            .await
            .unwrap();
    }
    let result = ctx
        .worker
        .handle(PricesJob::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["written"], 1, "only BTC is tracked now: {result}");
    assert_eq!(ctx.sim.stats().ids_requested, 1);
    let eth = Symbol::parse("ETH").unwrap();
    assert!(ctx.cache.get(&coin(&eth)).await.unwrap().is_none());
    assert!(ctx.cache.get(&coin(&btc)).await.unwrap().is_some());

    coinbeat_shared::tracked_symbols::remove(&env.conn, &env.keys, prices, &btc)
        .await
        .unwrap();
    let result = ctx
        .worker
        .handle(PricesJob::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        result["written"], 0,
        "an empty tracked set fetches nothing: {result}"
    );
    assert_eq!(ctx.sim.stats().ids_requested, 1, "no new upstream call");
}

/// The coin id the built-in `[prices.coins]` gives `symbol`: its record's key.
fn coin(symbol: &Symbol) -> CoinId {
    PricesSettings::default()
        .coin(symbol)
        .expect("a built-in symbol")
}

fn coins(symbols: &[Symbol]) -> Vec<CoinId> {
    symbols.iter().map(coin).collect()
}

#[tokio::test]
async fn any_coin_is_priced_by_its_id_or_by_a_symbol_only_the_catalogue_knows() {
    let ctx = setup(
        // The catalogue's pages go at twice the limit's gap: 200 ms here.
        |s| s.providers.coingecko.rate_limit = "600/min".into(),
        SimConfig {
            extra_coins: 500,
            ..SimConfig::default()
        },
    )
    .await;
    let mut settings = ctx.settings.clone();
    point_at(&mut settings, &ctx.sim, Upstream::CoinLore);
    let env = WorkerEnv::connect(settings).await.unwrap();
    coinbeat_workers::catalogue::CatalogueWorker::new(&env)
        .unwrap()
        .handle(coinbeat_shared::jobs::CatalogueJob {})
        .await
        .unwrap();
    let store = coinbeat_shared::catalogue::CatalogueStore::new(env.conn.clone(), env.keys.clone());
    let coins = store.load().await.unwrap();
    // A synthetic coin whose ticker no other coin has and `[prices.coins]` does not map.
    let lone = coins
        .iter()
        .filter(|c| c.id.as_str().starts_with("sim-coin-"))
        .find(|c| coins.iter().filter(|o| o.symbol == c.symbol).count() == 1)
        .expect("a coin with a ticker of its own");
    assert!(!ctx.settings.prices.coins.contains_key(&lone.symbol));

    // By id: the catalogued coin with its listed ticker, and bitcoin; an id nobody lists is
    // reported missing, not made up.
    let result = ctx
        .worker
        .handle(PricesJob {
            symbols: None,
            ids: Some(vec![
                lone.id.clone(),
                CoinId::parse("bitcoin").unwrap(),
                CoinId::parse("no-such-coin").unwrap(),
            ]),
            tier: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["written"], 2, "{result}");
    assert_eq!(
        result["missing"],
        serde_json::json!(["no-such-coin"]),
        "{result}"
    );
    let record = ctx.cache.get(&lone.id).await.unwrap().expect("priced");
    assert_eq!(record.symbol, lone.symbol);
    let served = ctx.sim.served().coingecko;
    assert_eq!(record.usd.to_string(), served[lone.id.as_str()].usd);
    assert_eq!(
        ctx.cache
            .get(&CoinId::parse("no-such-coin").unwrap())
            .await
            .unwrap(),
        None
    );

    // By the ticker alone: the catalogue names the coin.
    let result = ctx
        .worker
        .handle(PricesJob {
            symbols: Some(symbols(&[&lone.symbol])),
            ids: None,
            tier: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["unmapped"], serde_json::json!([]), "{result}");
    assert_eq!(result["requested"], 1, "{result}");
    assert_eq!(
        result["skipped_not_newer"].as_u64().unwrap() + result["written"].as_u64().unwrap(),
        1
    );
}
