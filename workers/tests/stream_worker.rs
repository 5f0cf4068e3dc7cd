//! The stream-worker against the simulator's Binance and CoinCap streams and a real Redis: ticks
//! become price records with the exchange's exact digits and event time, published on the
//! price event channel; Binance silent → CoinCap; both down → the shard says so; Binance back →
//! Binance again. Leases across real processes are in `stream_processes.rs`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    Settings,
    cache::PriceCache,
    catalogue::{CatalogueCoin, CatalogueStore},
    domain::{CoinId, Symbol},
    keys::Keys,
    stream_state::{self, Phase, ShardState},
    testing::TestRedis,
};
use coinbeat_sim::{ControlRequest, Provider, SimConfig, SimHandle, StreamConfig};
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

#[path = "common/price_records.rs"]
mod price_records;
#[path = "common/redis.rs"]
mod redis_helpers;

use price_records::{Published, event_time};
use redis_helpers::connect;

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
async fn setup(step_ms: u64, change: impl FnOnce(&mut SimConfig)) -> Ctx {
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
    change(&mut config);
    let sim = coinbeat_sim::start(config).await.unwrap();
    let mut settings = redis.settings();
    settings.providers.binance.ws_url = sim.binance_stream_url();
    settings.providers.coincap.ws_url = sim.coincap_stream_url();
    // BNB: CoinCap's id (`binance-coin`) differs from CoinGecko's (`binancecoin`).
    settings.streams.symbols = ["BTC", "ETH", "BNB"]
        .map(|s| Symbol::parse(s).unwrap())
        .into();
    settings.streams.silence_secs = 1;
    settings.streams.reconnect_min_ms = 200;
    settings.streams.reconnect_max_ms = 1_000;
    settings.streams.coalesce_ms = 100;
    let (conn, keys) = connect(&settings).await;
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
            coinbeat_workers::stream::run_on(settings, None, stop).await
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
    let mut published = Published::subscribe(&ctx.redis.url(), &ctx.keys).await;
    ctx.start();

    let state = ctx
        .until_phase(Phase::Streaming, Duration::from_secs(5))
        .await;
    assert_eq!((state.shard, state.symbols), (0, 3));
    assert_eq!(state.source, "binance-ws");

    // Published as written: the first record of each pair.
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 3 {
        let record = published
            .next(Duration::from_secs(5))
            .await
            .expect("a published record");
        assert_eq!(record["source"], "binance-ws", "{record}");
        seen.insert(record["symbol"].as_str().unwrap().to_owned(), record);
    }

    let cache = ctx.cache();
    let btc = coin("bitcoin");
    let record = cache.get(&btc).await.unwrap().expect("BTC is cached");
    let served = ctx.sim.served().binance_stream["BTCUSDT"].clone();
    assert_eq!(
        record.usd.to_string(),
        served.usd,
        "the wire's exact digits"
    );
    assert_eq!(record.coin_id.as_str(), "bitcoin");
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
    let mut ctx = setup(100, |c| c.faults.binance.down = true).await;
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
    let btc = coin("bitcoin");
    let deadline = Instant::now() + Duration::from_secs(5);
    let record = loop {
        match ctx.cache().get(&btc).await.unwrap() {
            Some(r) if r.source == "coincap-ws" => break r,
            other => assert!(Instant::now() < deadline, "no CoinCap record: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(record.upstream_updated_at.is_some());
    let deadline = Instant::now() + Duration::from_secs(3);
    while ctx
        .cache()
        .get(&coin("binancecoin"))
        .await
        .unwrap()
        .is_none_or(|r| r.source != "coincap-ws")
    {
        assert!(Instant::now() < deadline, "BNB by CoinCap's id");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

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
    let mut ctx = setup(100, |c| {
        c.faults.binance.down = true;
        c.faults.coincap.down = true;
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
    assert_eq!(ctx.cache().get(&coin("bitcoin")).await.unwrap(), None);
    ctx.control(Provider::Binance, false);
    ctx.control(Provider::CoinCap, false);
    ctx.until_phase(Phase::Streaming, Duration::from_secs(5))
        .await;
    ctx.stop().await;
}

impl Ctx {
    fn change(&self, change: ControlRequest) {
        self.sim.control(&change).unwrap();
    }

    /// Waits for a BTC record from `source` as of after `after`.
    async fn btc_from(
        &self,
        source: &str,
        after: DateTime<Utc>,
        within: Duration,
    ) -> DateTime<Utc> {
        let btc = coin("bitcoin");
        let deadline = Instant::now() + within;
        loop {
            if let Some(r) = self.cache().get(&btc).await.unwrap()
                && r.source == source
                && r.as_of() > after
            {
                return r.as_of();
            }
            assert!(
                Instant::now() < deadline,
                "no {source} record after {after} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_open_but_silent_fails_over_to_coincap_within_the_silence_setting_and_back() {
    let mut ctx = setup(100, |_| {}).await;
    ctx.start();
    ctx.until_phase(Phase::Streaming, Duration::from_secs(5))
        .await;
    ctx.change(ControlRequest {
        provider: Some(Provider::Binance),
        stream_silent: Some(true),
        ..ControlRequest::default()
    });
    let silenced = Utc::now();
    let started = Instant::now();
    ctx.btc_from("coincap-ws", silenced, Duration::from_secs(5))
        .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "silence 1 s + 2 s, took {took:?}"
    );
    // The shard's state is stored once a second: it says so by its next store.
    ctx.until_phase(Phase::FailedOver, Duration::from_millis(1_500))
        .await;
    // Both silent: the shard says so.
    ctx.change(ControlRequest {
        provider: Some(Provider::CoinCap),
        stream_silent: Some(true),
        ..ControlRequest::default()
    });
    ctx.until_phase(Phase::Down, Duration::from_secs(4)).await;
    // Binance speaks again: Binance's records, CoinCap's connection closed.
    ctx.change(ControlRequest {
        provider: Some(Provider::Binance),
        stream_silent: Some(false),
        ..ControlRequest::default()
    });
    ctx.btc_from("binance-ws", Utc::now(), Duration::from_secs(4))
        .await;
    ctx.until_phase(Phase::Streaming, Duration::from_secs(3))
        .await;
    ctx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_counted_and_skipped_and_a_server_side_disconnect_leaves_no_gap() {
    let mut ctx = setup(100, |c| c.faults.binance.stream_malformed_rate = 0.3).await;
    ctx.start();
    ctx.until_phase(Phase::Streaming, Duration::from_secs(5))
        .await;
    // Malformed frames: counted (as many as the simulator sent), never fatal.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ctx.change(ControlRequest {
        provider: Some(Provider::Binance),
        stream_malformed_rate: Some(0.0),
        ..ControlRequest::default()
    });
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let sent = ctx.sim.stats().by_provider["binance"].stream_frames_malformed;
    let state = ctx.shard().await.unwrap();
    assert!(sent > 10, "the simulator sent malformed frames: {sent}");
    assert_eq!(state.malformed, sent, "each counted: {state:?}");
    assert_eq!(state.reconnects, 0, "none was fatal: {state:?}");
    assert_eq!(state.phase, Phase::Streaming);

    // A server-side disconnect (maintenance, the 24 h lifetime): streaming again at once.
    let btc = coin("bitcoin");
    let before = ctx.cache().get(&btc).await.unwrap().unwrap().as_of();
    ctx.change(ControlRequest {
        provider: Some(Provider::Binance),
        drop_streams: Some(true),
        ..ControlRequest::default()
    });
    let dropped = Utc::now();
    let after = ctx
        .btc_from("binance-ws", dropped, Duration::from_secs(2))
        .await;
    assert!(
        after - before.max(dropped - chrono::Duration::milliseconds(300))
            <= chrono::Duration::seconds(1),
        "ticks again within a second of the drop: last before {before}, dropped {dropped}, next {after}"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let state = ctx.shard().await.unwrap();
        assert!(state.reconnects <= 1, "one reconnect: {state:?}");
        if state.reconnects == 1 && state.phase == Phase::Streaming {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "streaming after one reconnect: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ctx.sim.stats().by_provider["binance"].streams_open, 1);
    ctx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_at_the_end_of_their_lifetime_are_replaced_with_no_gap_over_a_second() {
    // The simulator ends every connection 2 s after it opened (Binance: 24 h).
    let mut ctx = setup(0, |c| c.streams.lifetime_secs = 2).await;
    let mut published = Published::subscribe(&ctx.redis.url(), &ctx.keys).await;
    ctx.start();
    ctx.until_phase(Phase::Streaming, Duration::from_secs(5))
        .await;
    let mut times = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(7);
    while Instant::now() < deadline {
        if let Some(record) = published.next(Duration::from_millis(100)).await
            && record["symbol"] == "BTC"
        {
            times.push(event_time(&record));
        }
    }
    // Streaming, not caught between two connections.
    let state = ctx
        .until_phase(Phase::Streaming, Duration::from_secs(2))
        .await;
    assert!(
        state.reconnects >= 2,
        "a new connection every 2 s: {state:?}"
    );
    let gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(gap <= chrono::Duration::seconds(1), "a gap of {gap}");
    assert!(ctx.sim.stats().by_provider["binance"].streams_opened >= 3);
    ctx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_server_counts_events_reconnects_and_the_age_of_each_price_at_write() {
    let ctx = setup(0, |c| c.streams.lifetime_secs = 2).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let (settings, stop) = (ctx.settings.clone(), ctx.stop.clone());
    let worker = tokio::spawn(async move {
        coinbeat_workers::stream::run_on(settings, Some(listener), stop).await
    });
    ctx.until_phase(Phase::Streaming, Duration::from_secs(5))
        .await;
    // Past one connection's lifetime, so one reconnect shows.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let text = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let m = coinbeat_shared::testing::Exposition::parse(&text);
    let binance = [("source", "binance-ws")];
    let events = m.get("coinbeat_stream_events_total", &binance);
    assert!(
        events >= 100.0,
        "20 trades/s on three pairs for 2.5 s: {events}"
    );
    assert!(m.get("coinbeat_stream_records_written_total", &binance) >= 3.0);
    assert!(
        m.get("coinbeat_stream_reconnects_total", &binance) >= 1.0,
        "{text}"
    );
    let written = m.get("coinbeat_stream_age_at_write_seconds_count", &binance);
    assert!(written >= 3.0);
    // The coalescing window (100 ms here) bounds how old a price is when written; a second
    // leaves room for a loaded CI machine (BENCHMARKS.md has the measured figures).
    let mut under_a_second = binance.to_vec();
    under_a_second.push(("le", "1"));
    assert_eq!(
        m.get(
            "coinbeat_stream_age_at_write_seconds_bucket",
            &under_a_second
        ),
        written,
        "{text}"
    );
    assert_eq!(m.get("coinbeat_stream_shards_held", &[]), 1.0);
    assert_eq!(
        m.get(
            "coinbeat_stream_connected",
            &[("source", "binance-ws"), ("shard", "0")]
        ),
        1.0
    );
    ctx.stop.cancel();
    worker.await.unwrap().unwrap();
}

fn coin(id: &str) -> CoinId {
    CoinId::parse(id).unwrap()
}

#[tokio::test]
async fn a_symbol_only_the_catalogue_knows_is_streamed_under_its_coin_id() {
    let mut ctx = setup(0, |c| {
        c.extra_coins = 50;
        c.streams.list_synthetic_on_binance = true;
    })
    .await;
    // A synthetic coin with a Binance pair, catalogued and not under `[prices.coins]`.
    let pair = ctx
        .sim
        .binance_pairs()
        .into_iter()
        .find(|p| p.coin_id.starts_with("sim-coin-"))
        .expect("a synthetic pair");
    let ticker = pair.symbol.strip_suffix("USDT").unwrap().to_owned();
    assert!(!ctx.settings.prices.coins.contains_key(&ticker));
    let coins: Vec<CatalogueCoin> = [
        ("bitcoin", "BTC", 1),
        (pair.coin_id.as_str(), ticker.as_str(), 2),
    ]
    .into_iter()
    .map(|(id, symbol, rank)| CatalogueCoin {
        id: coin(id),
        symbol: symbol.into(),
        name: symbol.into(),
        rank: Some(rank),
        market_cap_usd: None,
        platforms: Default::default(),
    })
    .collect();
    CatalogueStore::new(ctx.conn.clone(), ctx.keys.clone())
        .replace(&coins, "coingecko", chrono::Utc::now(), 0)
        .await
        .unwrap();
    ctx.settings.streams.symbols = vec![Symbol::parse(&ticker).unwrap()];
    ctx.start();

    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        if let Some(record) = ctx.cache().get(&coin(&pair.coin_id)).await.unwrap() {
            break record;
        }
        assert!(Instant::now() < deadline, "{ticker} never streamed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record.source, "binance-ws");
    assert_eq!(record.symbol, ticker);
    ctx.stop().await;
}
