//! The rates worker against the simulator's Alpha Vantage (its real wire format: strings under
//! numbered keys, errors inside HTTP 200) and a real, private redis-server.

#[path = "common/simulated.rs"]
mod simulated;

use coinbeat_shared::{
    Settings, cache::RateCache, domain::Currency, jobs::RatesJob, settings::Secret,
    testing::TestRedis,
};
use coinbeat_sim::{ControlRequest, Provider as SimProvider, SimConfig, SimHandle};
use coinbeat_workers::{boot::WorkerEnv, rates::RatesWorker};
use simulated::{Upstream, simulated};

struct Ctx {
    _redis: TestRedis,
    sim: SimHandle,
    worker: RatesWorker,
    rates: RateCache,
}

async fn setup(sim: SimConfig, tune: impl FnOnce(&mut Settings)) -> Ctx {
    let (redis, sim, mut settings) = simulated(sim, &[Upstream::AlphaVantage]).await;
    settings.upstream.retries = 0;
    tune(&mut settings);
    let env = WorkerEnv::connect(settings).await.unwrap();
    Ctx {
        _redis: redis,
        worker: RatesWorker::new(&env).unwrap(),
        rates: RateCache::new(env.conn.clone(), env.keys.clone()),
        sim,
    }
}

fn currencies(list: &[&str]) -> Vec<Currency> {
    list.iter().map(|c| Currency::parse(c).unwrap()).collect()
}

#[tokio::test]
async fn each_configured_currency_is_stored_with_the_exact_rate_served() {
    let ctx = setup(SimConfig::default(), |_| {}).await;
    let result = ctx
        .worker
        .handle(RatesJob::default(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["written"], 3, "{result}");
    let stored = ctx
        .rates
        .get_many(&currencies(&["EUR", "GBP", "JPY"]))
        .await
        .unwrap();
    let served = ctx.sim.served().alphavantage;
    for code in ["EUR", "GBP", "JPY"] {
        let rate = &stored[&Currency::parse(code).unwrap()];
        assert_eq!(rate.per_usd.to_string(), served[&format!("USD/{code}")].usd);
        assert_eq!(rate.source, "alphavantage");
        assert!(rate.as_of.is_some(), "Last Refreshed is read");
        assert!(rate.fetched_at >= rate.as_of.unwrap() - chrono::Duration::seconds(1));
    }

    // A job naming its own currencies asks for those alone.
    let result = ctx
        .worker
        .handle(
            RatesJob {
                currencies: Some(currencies(&["EUR"])),
            },
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["written"], 1, "{result}");
    assert_eq!(ctx.sim.stats().by_provider["alphavantage"].requests, 4);
}

#[tokio::test]
async fn the_daily_quota_hands_the_job_back_for_an_hour_keeping_what_it_got() {
    let ctx = setup(SimConfig::default(), |s| {
        s.providers.alphavantage.rate_limit = "off".into();
    })
    .await;
    ctx.sim
        .control(&ControlRequest {
            provider: Some(SimProvider::AlphaVantage),
            calls_per_day: Some(2),
            ..Default::default()
        })
        .unwrap();
    let enqueued = chrono::Utc::now();
    let err = ctx
        .worker
        .handle(RatesJob::default(), Some(enqueued))
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "{err:?}");
    assert!(err.reason().contains("rate limit"), "{err:?}");
    assert!(
        err.retry_after().unwrap() >= std::time::Duration::from_secs(3_600),
        "{err:?}"
    );
    let stored = ctx
        .rates
        .get_many(&currencies(&["EUR", "GBP", "JPY"]))
        .await
        .unwrap();
    assert_eq!(
        stored.len(),
        2,
        "the two answered before the quota ran out are kept"
    );

    // The task's retry, an hour later (the push-back every replica honours let go), once calls
    // are allowed again, asks only for the one still missing.
    let mut conn = redis::Client::open(ctx._redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let blocked: Vec<String> = redis::cmd("KEYS")
        .arg("*:ratelimit:alphavantage*:blocked")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    let _: () = redis::cmd("DEL")
        .arg(&blocked)
        .query_async(&mut conn)
        .await
        .unwrap();
    ctx.sim
        .control(&ControlRequest {
            provider: Some(SimProvider::AlphaVantage),
            calls_per_day: Some(100),
            ..Default::default()
        })
        .unwrap();
    let before = ctx.sim.stats().by_provider["alphavantage"].requests;
    let result = ctx
        .worker
        .handle(RatesJob::default(), Some(enqueued))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ctx.sim.stats().by_provider["alphavantage"].requests - before,
        1,
        "{result}"
    );
    assert_eq!(result["written"], 1, "{result}");
    assert_eq!(result["kept"].as_array().unwrap().len(), 2, "{result}");
    assert_eq!(result["rates"].as_object().unwrap().len(), 3, "{result}");
    // A new task (enqueued after them) asks for all three again.
    ctx.worker
        .handle(RatesJob::default(), Some(chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!(
        ctx.sim.stats().by_provider["alphavantage"].requests - before,
        4
    );
}

#[tokio::test]
async fn a_refused_key_is_permanent_and_no_key_fetches_nothing() {
    let ctx = setup(
        SimConfig {
            api_keys: vec!["right".into()],
            ..SimConfig::default()
        },
        |s| s.providers.alphavantage.api_key = Some(Secret::new("wrong")),
    )
    .await;
    let err = ctx
        .worker
        .handle(RatesJob::default(), None)
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(err.reason().contains("apikey"), "{err:?}");

    let ctx = setup(SimConfig::default(), |s| {
        s.providers.alphavantage.api_key = None;
    })
    .await;
    let result = ctx
        .worker
        .handle(RatesJob::default(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result["written"], 0);
    assert!(
        result["skipped"]
            .as_str()
            .unwrap()
            .contains("ALPHAVANTAGE_API_KEY")
    );
    assert_eq!(ctx.sim.stats().requests_total, 0, "nothing was asked");
}
