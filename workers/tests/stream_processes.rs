//! stream-worker replicas as real processes sharing the shards through leases: a paused holder
//! loses its shards to the standby within 5 s and lets go of them when it wakes, a SIGKILLed
//! holder's shards are taken within 5 s, and a SIGTERMed one (a rolling restart) hands them over
//! with no gap in a symbol's ticks over a second. The simulator counts the connections, so two
//! replicas streaming one shard would show.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    Settings, keys::Keys, stream_state, stream_state::Phase, testing::TestRedis,
};
use coinbeat_sim::{SimConfig, SimHandle, StreamConfig};
use redis::aio::ConnectionManager;

#[path = "common/price_records.rs"]
mod price_records;
#[path = "common/redis.rs"]
mod redis_helpers;
#[path = "common/worker_process.rs"]
mod worker_process;

use price_records::{Published, event_time};
use redis_helpers::connect;
use worker_process::WorkerProcess;

/// Twelve tracked symbols in shards of four.
const SHARDS: usize = 3;

struct Ctx {
    redis: TestRedis,
    sim: SimHandle,
    settings: Settings,
    conn: ConnectionManager,
    keys: Keys,
}

impl Ctx {
    async fn new() -> Self {
        let redis = TestRedis::start();
        let sim = coinbeat_sim::start(SimConfig {
            step_ms: 200,
            streams: StreamConfig {
                trades_per_sec: 20.0,
                ping_secs: 1,
                ..StreamConfig::default()
            },
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let settings = redis.settings();
        let (conn, keys) = connect(&settings).await;
        Self {
            redis,
            sim,
            settings,
            conn,
            keys,
        }
    }

    fn spawn(&self) -> WorkerProcess {
        WorkerProcess::spawn(
            env!("CARGO_BIN_EXE_stream-worker"),
            &self.settings,
            &[
                (
                    "COINBEAT_PROVIDERS__BINANCE__WS_URL",
                    self.sim.binance_stream_url(),
                ),
                (
                    "COINBEAT_PROVIDERS__COINCAP__WS_URL",
                    self.sim.coincap_stream_url(),
                ),
                ("COINBEAT_STREAMS__SHARD_SIZE", "4".into()),
            ],
        )
    }

    /// Shard → (holder's pid, phase), for the states refreshed lately.
    async fn holders(&self) -> BTreeMap<u32, (u32, Phase)> {
        stream_state::load(&self.conn, &self.keys)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.shard, (pid_of(&s.holder), s.phase)))
            .collect()
    }

    /// How long until every shard streams from `pid`; panics past `within`.
    async fn until_all_streamed_by(&self, pid: u32, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let holders = self.holders().await;
            if holders.len() == SHARDS
                && holders
                    .values()
                    .all(|(p, phase)| *p == pid && *phase == Phase::Streaming)
            {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "not all shards streamed by {pid} within {within:?}: {holders:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn open_connections(&self) -> u64 {
        self.sim.stats().by_provider["binance"].streams_open
    }

    /// Waits until the simulator has exactly one connection per shard, then checks it stays so
    /// for `hold`.
    async fn one_connection_per_shard(&self, within: Duration, hold: Duration) {
        let deadline = Instant::now() + within;
        while self.open_connections() != SHARDS as u64 {
            assert!(
                Instant::now() < deadline,
                "{} connections, not {SHARDS}",
                self.open_connections()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let until = Instant::now() + hold;
        while Instant::now() < until {
            assert_eq!(
                self.open_connections(),
                SHARDS as u64,
                "a shard streamed twice"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `stream-{host}-{pid}-{suffix}` → pid.
fn pid_of(holder: &str) -> u32 {
    holder.rsplit('-').nth(1).unwrap().parse().unwrap()
}

fn signal(worker: &WorkerProcess, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &worker.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_or_killed_holder_loses_its_shards_to_the_standby_within_five_seconds() {
    let ctx = Ctx::new().await;
    let mut a = ctx.spawn();
    ctx.until_all_streamed_by(a.child.id(), Duration::from_secs(10))
        .await;
    let b = ctx.spawn();
    ctx.one_connection_per_shard(Duration::from_secs(2), Duration::from_secs(2))
        .await;

    // Paused (SIGSTOP): its leases run out unrenewed, the standby takes them.
    signal(&a, "STOP");
    let took = ctx
        .until_all_streamed_by(b.child.id(), Duration::from_secs(5))
        .await;
    eprintln!("paused holder's shards taken in {took:?}");
    // Awake again, it finds its leases gone and closes its connections.
    signal(&a, "CONT");
    ctx.one_connection_per_shard(Duration::from_secs(3), Duration::from_secs(2))
        .await;
    assert!(
        a.log().contains("lease"),
        "the woken holder says why it stopped:\n{}",
        a.log()
    );
    assert!(
        ctx.holders()
            .await
            .values()
            .all(|(p, _)| *p == b.child.id())
    );

    // SIGKILL of the holder: the old one, now the standby, streams every shard within 5 s.
    let mut b = b;
    b.kill9();
    let took = ctx
        .until_all_streamed_by(a.child.id(), Duration::from_secs(5))
        .await;
    eprintln!("killed holder's shards taken in {took:?}");
    ctx.one_connection_per_shard(Duration::from_secs(3), Duration::from_secs(1))
        .await;
    a.kill9();
    drop(ctx.redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_hands_each_shard_over_with_no_gap_in_ticks_over_a_second() {
    let ctx = Ctx::new().await;
    let a = ctx.spawn();
    ctx.until_all_streamed_by(a.child.id(), Duration::from_secs(10))
        .await;
    let b = ctx.spawn();
    ctx.one_connection_per_shard(Duration::from_secs(2), Duration::from_secs(1))
        .await;

    let mut published = Published::subscribe(&ctx.redis.url(), &ctx.keys).await;
    let (stop_at, deadline) = (
        Instant::now() + Duration::from_secs(2),
        Instant::now() + Duration::from_secs(6),
    );
    let mut stopped = false;
    let mut times: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
    while Instant::now() < deadline {
        if !stopped && Instant::now() >= stop_at {
            signal(&a, "TERM");
            stopped = true;
        }
        let Some(record) = published.next(Duration::from_millis(100)).await else {
            continue;
        };
        if record["source"] != "binance-ws" {
            continue;
        }
        let at = event_time(&record);
        times
            .entry(record["symbol"].as_str().unwrap().to_owned())
            .or_default()
            .push(at);
    }
    ctx.until_all_streamed_by(b.child.id(), Duration::from_secs(1))
        .await;
    assert!(times.len() >= 10, "every pair streamed: {:?}", times.keys());
    for (symbol, at) in &times {
        let gap = at.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default();
        assert!(
            gap <= chrono::Duration::seconds(1),
            "{symbol}: a gap of {gap} across the restart"
        );
    }
}
