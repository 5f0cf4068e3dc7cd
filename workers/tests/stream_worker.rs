//! The stream-worker against the simulator's Binance and CoinCap streams and a real Redis: ticks
//! become price records with the exchange's exact digits and event time, published on the
//! price event channel; Binance silent → CoinCap; both down → the shard says so; Binance back →
//! Binance again. Leases across real processes are in `stream_processes.rs`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    Settings,
    cache::PriceCache,
    domain::Symbol,
    keys::Keys,
    redis_conn,
    stream_state::{self, Phase, ShardState},
    testing::TestRedis,
};
use coinbeat_sim::{ControlRequest, Provider, SimConfig, SimHandle, StreamConfig};
use futures::StreamExt;
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

struct Ctx {
    redis: TestRedis,
    sim: SimHandle,
    settings: Settings,
    conn: ConnectionManager,
    keys: Keys,
    stop: CancellationToken,
    worker: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Prices frozen (`step_ms` 0) unless `step_ms` says otherwise, so every trade of a pair has the
/// same price and the record can be compared with the last one served.
async fn setup(step_ms: u64, faults: impl FnOnce(&mut coinbeat_sim::Faults)) -> Ctx {
    let redis = TestRedis::start();
    let mut config = SimConfig {
        step_ms,
        streams: StreamConfig {
            trades_per_sec: 20.0,
            ping_secs: 1,
            ..StreamConfig::default()
        },
        ..SimConfig::default()
    };
    faults(&mut config.faults);
    let sim = coinbeat_sim::start(config).await.unwrap();
    let mut settings = redis.settings();
    settings.providers.binance.ws_url = sim.binance_stream_url();
    settings.providers.coincap.ws_url = sim.coincap_stream_url();
    settings.streams.symbols = ["BTC", "ETH"].map(|s| Symbol::parse(s).unwrap()).into();
    settings.streams.silence_secs = 1;
    settings.streams.reconnect_min_ms = 200;
    settings.streams.reconnect_max_ms = 1_000;
    settings.streams.coalesce_ms = 100;
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    Ctx {
        redis,
        sim,
        settings,
        conn,
        keys,
        stop: CancellationToken::new(),
        worker: None,
    }
}

impl Ctx {
    fn start(&mut self) {
        let (settings, stop) = (self.settings.clone(), self.stop.clone());
        self.worker = Some(tokio::spawn(async move {
            coinbeat_workers::registry::run_on("stream-worker", settings, None, stop).await
        }));
    }

    async fn stop(&mut self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.worker.take().unwrap())
            .await
            .expect("the stream-worker stops")
            .unwrap()
            .expect("the stream-worker stops cleanly");
    }

    fn cache(&self) -> PriceCache {
        PriceCache::new(self.conn.clone(), self.keys.clone(), &self.settings.prices)
    }

    async fn shard(&self) -> Option<ShardState> {
        stream_state::load(&self.conn, &self.keys)
            .await
            .unwrap()
            .into_iter()
            .next()
    }

    async fn until_phase(&self, phase: Phase, within: Duration) -> ShardState {
        let deadline = Instant::now() + within;
        loop {
            let state = self.shard().await;
            if let Some(state) = &state
                && state.phase == phase
            {
                return state.clone();
            }
            assert!(
                Instant::now() < deadline,
                "never {phase:?} within {within:?}: {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn control(&self, provider: Provider, down: bool) {
        self.sim
            .control(&ControlRequest {
                provider: Some(provider),
                down: Some(down),
                ..ControlRequest::default()
            })
            .unwrap();
    }
}

fn ms(at: DateTime<Utc>) -> u64 {
    at.timestamp_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_become_records_with_the_exchanges_digits_and_event_time_and_reach_subscribers() {
    let mut ctx = setup(0, |_| {}).await;
    let mut events = redis::Client::open(ctx.redis.url())
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    events.subscribe(ctx.keys.price_events()).await.unwrap();
    let mut events = events.into_on_message();
    ctx.start();

    let state = ctx
        .until_phase(Phase::Streaming, Duration::from_secs(5))
        .await;
    assert_eq!((state.shard, state.symbols), (0, 2));
    assert_eq!(state.source, "binance-ws");

    // Published as written: the first record of each pair.
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("a published record")
            .unwrap();
        let payload: String = message.get_payload().unwrap();
        let record: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(record["source"], "binance-ws", "{record}");
        seen.insert(record["symbol"].as_str().unwrap().to_owned(), record);
    }

    let cache = ctx.cache();
    let btc = Symbol::parse("BTC").unwrap();
    let record = cache.get(&btc).await.unwrap().expect("BTC is cached");
    let served = ctx.sim.served().binance_stream["BTCUSDT"].clone();
    assert_eq!(
        record.usd.to_string(),
        served.usd,
        "the wire's exact digits"
    );
    assert_eq!(record.coin_id, "bitcoin");
    assert!(
        record.market_cap_usd.is_none(),
        "a stream has no market cap"
    );
    let event = record
        .upstream_updated_at
        .expect("the exchange's event time");
    assert!(
        ms(event) <= served.event_time_ms,
        "an event the simulator sent"
    );
    assert_eq!(record.as_of(), event, "as of the exchange's time");

    // The coalescing window bounds writes: 20 trades a second per pair, at most ~10 writes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = ctx.shard().await.unwrap();
    assert!(
        before.ticks >= 40,
        "20 trades/s on two pairs for 2 s: {before:?}"
    );
    let history = cache.history(&btc, 1_000).await.unwrap();
    assert!(!history.is_empty());

    // Stopping frees the lease at once.
    let lease = ctx.keys.stream_lease(0);
    let mut conn = ctx.conn.clone();
    let held: Option<String> = redis::cmd("GET")
        .arg(&lease)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(held.as_deref(), Some(before.holder.as_str()));
    ctx.stop().await;
    let held: Option<String> = redis::cmd("GET")
        .arg(&lease)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(held, None, "released on a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_refused_fails_over_to_coincap_and_back_and_both_down_is_said() {
    // Prices move every 100 ms: CoinCap sends only what changed.
    let mut ctx = setup(100, |f| f.binance.down = true).await;
    ctx.start();
    let started = Instant::now();
    let state = ctx
        .until_phase(Phase::FailedOver, Duration::from_secs(5))
        .await;
    assert_eq!(state.source, "coincap-ws");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "silence 1 s + 2 s: {:?}",
        started.elapsed()
    );
    let btc = Symbol::parse("BTC").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let record = loop {
        match ctx.cache().get(&btc).await.unwrap() {
            Some(r) if r.source == "coincap-ws" => break r,
            other => assert!(Instant::now() < deadline, "no CoinCap record: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(record.upstream_updated_at.is_some());

    // Binance back: its streams again, CoinCap's connection closed.
    ctx.control(Provider::Binance, false);
    ctx.until_phase(Phase::Streaming, Duration::from_secs(5))
        .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while ctx.sim.stats().by_provider["coincap"].streams_open != 0 {
        assert!(Instant::now() < deadline, "CoinCap's connection stays open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = ctx.cache().get(&btc).await.unwrap().unwrap();
        if r.source == "binance-ws" {
            break;
        }
        assert!(Instant::now() < deadline, "still {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ctx.sim.stats().by_provider["binance"].streams_open, 1);
    ctx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_both_sources_refusing_the_shard_is_down_and_health_degraded() {
    let mut ctx = setup(100, |f| {
        f.binance.down = true;
        f.coincap.down = true;
    })
    .await;
    ctx.start();
    let state = ctx.until_phase(Phase::Down, Duration::from_secs(6)).await;
    assert_eq!(state.source, "none");
    assert!(state.reconnects >= 1, "{state:?}");
    let states = stream_state::load(&ctx.conn, &ctx.keys).await.unwrap();
    assert_eq!(
        stream_state::status(&states),
        coinbeat_shared::cache::Status::Degraded
    );
    assert_eq!(
        ctx.cache()
            .get(&Symbol::parse("BTC").unwrap())
            .await
            .unwrap(),
        None
    );
    ctx.control(Provider::Binance, false);
    ctx.control(Provider::CoinCap, false);
    ctx.until_phase(Phase::Streaming, Duration::from_secs(5))
        .await;
    ctx.stop().await;
}
