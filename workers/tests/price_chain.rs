//! The price chain (`prices.providers`) against the simulator and a real, private
//! redis-server: each link asked only for what the links before it could not price, each in
//! its own wire format (CoinGecko's numbers, Alchemy's and CoinCap's decimal strings, Binance's
//! tickers), each under its own shared rate limit, which the simulator enforces and counts.

#[path = "common/simulated.rs"]
mod simulated;

use coinbeat_shared::{
    Settings,
    cache::PriceCache,
    domain::{CoinId, Symbol},
    jobs::PricesJob,
    settings::PriceSource,
    testing::TestRedis,
};
use coinbeat_sim::{ControlRequest, Provider as SimProvider, SimConfig, SimHandle};
use coinbeat_workers::{boot::WorkerEnv, prices::PriceWorker};
use serde_json::Value;
use simulated::{Upstream, simulated};

const CHAIN: [PriceSource; 4] = [
    PriceSource::CoinGecko,
    PriceSource::Alchemy,
    PriceSource::CoinCap,
    PriceSource::Binance,
];

struct Ctx {
    _redis: TestRedis,
    sim: SimHandle,
    settings: Settings,
    worker: PriceWorker,
    cache: PriceCache,
}

/// A simulator speaking for every price provider, and a price worker whose chain is `chain`
/// (no retries, so a down link passes its coins on at once), after `tune`.
async fn setup(chain: &[PriceSource], sim: SimConfig, tune: impl FnOnce(&mut Settings)) -> Ctx {
    let upstreams = [
        Upstream::CoinGecko,
        Upstream::Alchemy,
        Upstream::CoinCap,
        Upstream::Binance,
    ];
    let (redis, sim, mut settings) = simulated(sim, &upstreams).await;
    settings.prices.providers = chain.to_vec();
    settings.upstream.retries = 0;
    tune(&mut settings);
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    Ctx {
        _redis: redis,
        worker: PriceWorker::new(&env).unwrap(),
        cache: PriceCache::new(env.conn.clone(), env.keys.clone(), &settings.prices),
        sim,
        settings,
    }
}

impl Ctx {
    fn down(&self, provider: SimProvider) {
        self.sim
            .control(&ControlRequest {
                provider: Some(provider),
                down: Some(true),
                ..Default::default()
            })
            .unwrap();
    }

    async fn prices(&self, list: &[&str]) -> Result<Value, coinbeat_shared::queue::JobError> {
        let job = PricesJob {
            symbols: Some(list.iter().map(|s| Symbol::parse(s).unwrap()).collect()),
            ids: None,
            tier: None,
        };
        self.worker.handle(job).await.map(Option::unwrap)
    }

    fn coin(&self, symbol: &str) -> CoinId {
        self.settings
            .prices
            .coin(&Symbol::parse(symbol).unwrap())
            .unwrap()
    }

    /// The cached record of `symbol`'s coin: its source and its price's text.
    async fn cached(&self, symbol: &str) -> (String, String, Option<String>) {
        let record = self.cache.get(&self.coin(symbol)).await.unwrap().unwrap();
        (
            record.source,
            record.usd.to_string(),
            record.market_cap_usd.map(|c| c.to_string()),
        )
    }
}

/// The links a result reports: each link's source and how many it priced.
fn links(result: &Value) -> Vec<(String, u64)> {
    result["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["source"].as_str().unwrap().to_owned(),
                l["priced"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_link_prices_what_the_links_before_it_could_not_in_its_own_wire_format() {
    let ctx = setup(&CHAIN, SimConfig::default(), |_| {}).await;
    let link = |name: &str, n: u64| (name.to_owned(), n);

    // Everything up: CoinGecko alone is asked.
    let result = ctx.prices(&["BTC"]).await.unwrap();
    assert_eq!(links(&result), [link("coingecko", 1)], "{result}");
    assert_eq!(result["source"], "coingecko");
    assert!(result["fallback"].is_null(), "{result}");
    let served = ctx.sim.served();
    let (source, usd, cap) = ctx.cached("BTC").await;
    assert_eq!(
        (source.as_str(), usd.as_str()),
        ("coingecko", served.coingecko["bitcoin"].usd.as_str())
    );
    assert!(cap.is_some());

    // CoinGecko down: Alchemy, by symbol, its decimal strings kept to the digit; no market cap.
    ctx.down(SimProvider::CoinGecko);
    let result = ctx.prices(&["ETH", "SOL"]).await.unwrap();
    assert_eq!(
        links(&result),
        [link("coingecko", 0), link("alchemy", 2)],
        "{result}"
    );
    assert_eq!(result["fallback"]["source"], "alchemy", "{result}");
    assert!(
        result["fallback"]["reason"]
            .as_str()
            .unwrap()
            .contains("coingecko"),
        "{result}"
    );
    let served = ctx.sim.served();
    for symbol in ["ETH", "SOL"] {
        let (source, usd, cap) = ctx.cached(symbol).await;
        assert_eq!(source, "alchemy");
        assert_eq!(usd, served.alchemy[symbol].usd, "{symbol}");
        assert_eq!(cap, None, "Alchemy sends no market cap");
    }

    // Alchemy down too: CoinCap, by its own asset ids (BNB is `binance-coin` there), with
    // market caps.
    ctx.down(SimProvider::Alchemy);
    let result = ctx.prices(&["BNB", "LTC"]).await.unwrap();
    assert_eq!(
        links(&result),
        [link("coingecko", 0), link("alchemy", 0), link("coincap", 2)],
        "{result}"
    );
    let served = ctx.sim.served();
    for symbol in ["BNB", "LTC"] {
        let (source, usd, cap) = ctx.cached(symbol).await;
        assert_eq!(source, "coincap");
        let coin = ctx.coin(symbol);
        assert_eq!(usd, served.coincap[coin.as_str()].usd, "{symbol}");
        assert!(cap.is_some(), "CoinCap sends market caps");
    }

    // CoinCap down too: Binance's USDT pairs.
    ctx.down(SimProvider::CoinCap);
    let result = ctx.prices(&["TRX"]).await.unwrap();
    assert_eq!(
        links(&result),
        [
            link("coingecko", 0),
            link("alchemy", 0),
            link("coincap", 0),
            link("binance", 1)
        ],
        "{result}"
    );
    let (source, usd, _) = ctx.cached("TRX").await;
    assert_eq!(source, "binance");
    assert_eq!(usd, ctx.sim.served().binance["TRXUSDT"].usd);

    // Every link down: the job fails, to be retried, with the first link's error, and nothing
    // is made up.
    ctx.down(SimProvider::Binance);
    let err = ctx.prices(&["OP"]).await.unwrap_err();
    assert!(!err.is_permanent(), "{err:?}");
    assert!(err.reason().contains("coingecko"), "{err:?}");
    assert!(ctx.cache.get(&ctx.coin("OP")).await.unwrap().is_none());
}

#[tokio::test]
async fn a_link_that_does_not_know_a_coin_passes_it_on_and_one_nobody_knows_is_missing() {
    let ctx = setup(
        &[PriceSource::Alchemy, PriceSource::CoinGecko],
        SimConfig::default(),
        |s| {
            s.prices.coins.insert("GHOST".into(), "no-such-coin".into());
        },
    )
    .await;
    let result = ctx.prices(&["BTC", "GHOST"]).await.unwrap();
    assert_eq!(result["source"], "alchemy");
    assert_eq!(result["written"], 1, "{result}");
    assert_eq!(result["missing"], serde_json::json!(["GHOST"]), "{result}");
    // Alchemy answered without GHOST, so CoinGecko was asked for it, and only for it.
    let asked: Vec<u64> = result["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["asked"].as_u64().unwrap())
        .collect();
    assert_eq!(asked, [2, 1], "{result}");
}

#[tokio::test]
async fn every_link_keeps_to_its_own_limit_across_concurrent_jobs() {
    // The simulator refuses past 2 calls a second from Alchemy and CoinCap; the settings say
    // the same, so the shared limiters pace the calls and none is refused.
    let ctx = setup(
        &[PriceSource::Alchemy, PriceSource::CoinCap],
        SimConfig::default(),
        |s| {
            s.providers.alchemy.rate_limit = "2/s".into();
            s.providers.coincap.rate_limit = "2/s".into();
        },
    )
    .await;
    for provider in [SimProvider::Alchemy, SimProvider::CoinCap] {
        ctx.sim
            .control(&ControlRequest {
                provider: Some(provider),
                calls_per_sec: Some(2),
                ..Default::default()
            })
            .unwrap();
    }
    let tracked: Vec<String> = ctx
        .settings
        .prices
        .tracked
        .iter()
        .map(|s| s.to_string())
        .collect();
    let tracked: Vec<&str> = tracked.iter().map(String::as_str).collect();
    let run_jobs = async || {
        let jobs = (0..6).map(|_| ctx.prices(&tracked));
        for result in futures::future::join_all(jobs).await {
            let result = result.unwrap();
            assert_eq!(result["missing"], serde_json::json!([]), "{result}");
        }
    };
    run_jobs().await;
    // Alchemy down: every job goes on to CoinCap, still within its limit.
    ctx.down(SimProvider::Alchemy);
    run_jobs().await;

    let stats = ctx.sim.stats();
    for name in ["alchemy", "coincap"] {
        let provider = &stats.by_provider[name];
        assert!(provider.requests >= 6, "{name}: {provider:?}");
        assert_eq!(
            provider.rate_limited, 0,
            "{name} refused a call: {provider:?}"
        );
    }
}

#[tokio::test]
async fn a_chain_naming_a_keyed_provider_without_its_key_does_not_start() {
    let (_redis, _sim, mut settings) = simulated(SimConfig::default(), &[]).await;
    settings.prices.providers = vec![PriceSource::CoinGecko, PriceSource::Alchemy];
    let env = WorkerEnv::connect(settings).await.unwrap();
    let err = PriceWorker::new(&env).unwrap_err();
    assert!(err.to_string().contains("ALCHEMY_API_KEY"), "{err:#}");
}

/// A chain of Alchemy then CoinGecko, against a simulator that takes only the key `right`.
async fn keyed_chain(alchemy_key: &str, coingecko_key: &str) -> Ctx {
    use coinbeat_shared::settings::Secret;
    setup(
        &[PriceSource::Alchemy, PriceSource::CoinGecko],
        SimConfig {
            api_keys: vec!["right".into()],
            ..SimConfig::default()
        },
        |s| {
            s.providers.alchemy.api_key = Some(Secret::new(alchemy_key));
            s.providers.coingecko.api_key = Some(Secret::new(coingecko_key));
        },
    )
    .await
}

#[tokio::test]
async fn a_refused_key_on_one_link_and_an_outage_on_the_next_is_retried_not_dead() {
    let ctx = keyed_chain("wrong", "right").await;
    ctx.down(SimProvider::CoinGecko);
    let err = ctx.prices(&["BTC"]).await.unwrap_err();
    assert!(!err.is_permanent(), "CoinGecko's outage may pass: {err:?}");
    let reason = err.reason();
    assert!(
        reason.contains("alchemy") && reason.contains("coingecko"),
        "{reason}"
    );
    assert!(
        !reason.contains("wrong"),
        "the key is never quoted: {reason}"
    );

    // CoinGecko's refusal too: now nothing can pass by waiting.
    let ctx = keyed_chain("wrong", "also-wrong").await;
    let err = ctx.prices(&["BTC"]).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
}

#[test]
fn the_clients_never_show_their_keys() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ctx = setup(&CHAIN, SimConfig::default(), |_| {}).await;
        let shown = format!("{:?}", ctx.worker);
        assert!(!shown.contains(simulated::SIM_PRICE_KEY), "{shown}");
    });
}
