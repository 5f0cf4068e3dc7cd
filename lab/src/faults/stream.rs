//! `faults stream`: the live price streams under a failing leaseholder. Two `stream-worker`
//! replicas share three shards of the twelve tracked symbols over the simulator's Binance
//! streams; the replica holding them is frozen (SIGSTOP) for 8 s and woken, then the new holder
//! is SIGKILLed, then a fresh replica is started and the holder stopped with SIGTERM (a rolling
//! restart). Every price record published is watched: no symbol may go without a tick for over
//! 5 s (3 s of lease, its poll, a connection), a rolling restart not for over 1 s, and once
//! each fault is over the simulator must count one connection per shard: no shard streamed by
//! two replicas past its lease.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use coinbeat_shared::stream_state::{self, Phase};
use coinbeat_sim::{SimConfig, SimHandle, StreamConfig};
use futures::StreamExt;

use super::outcome::Outcome;
use crate::bench::lab::{Lab, start_sim};
use coinbeat::component::Component;

const SHARDS: usize = 3;
/// The longest a symbol may go without a tick while its holder is frozen or killed.
const MAX_GAP: Duration = Duration::from_secs(5);
/// The longest across a rolling restart.
const MAX_ROLLING_GAP: Duration = Duration::from_secs(1);

pub async fn run() -> anyhow::Result<Outcome> {
    let sim = start_sim(SimConfig {
        step_ms: 200,
        streams: StreamConfig {
            trades_per_sec: 10.0,
            ..StreamConfig::default()
        },
        ..SimConfig::default()
    })
    .await?;
    Lab::start().await?.run_beside(sim, scenario).await
}

/// When each symbol's records were last seen, and the longest wait between two.
#[derive(Default)]
struct Gaps {
    last: BTreeMap<String, Instant>,
    longest: Duration,
    records: u64,
}

impl Gaps {
    fn reset_longest(&mut self) -> Duration {
        // A symbol quiet right now counts up to now.
        let now = Instant::now();
        let open = self
            .last
            .values()
            .map(|t| now - *t)
            .max()
            .unwrap_or_default();
        std::mem::take(&mut self.longest).max(open)
    }
}

async fn scenario(lab: &mut Lab, sim: &SimHandle) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new("stream");
    let env = vec![
        (
            "COINBEAT_PROVIDERS__BINANCE__WS_URL",
            sim.binance_stream_url(),
        ),
        (
            "COINBEAT_PROVIDERS__COINCAP__WS_URL",
            sim.coincap_stream_url(),
        ),
        ("COINBEAT_STREAMS__SHARD_SIZE", "4".into()),
    ];
    let first = lab.spawn(Component::StreamWorker, &env)?;
    until_streamed_by(lab, first, Duration::from_secs(15)).await?;
    let second = lab.spawn(Component::StreamWorker, &env)?;

    let gaps = Arc::new(Mutex::new(Gaps::default()));
    let mut events = redis::Client::open(lab.settings.redis.url.expose())?
        .get_async_pubsub()
        .await?;
    events.subscribe(lab.keys.price_events()).await?;
    let watcher = {
        let gaps = gaps.clone();
        tokio::spawn(async move {
            let mut events = events.into_on_message();
            while let Some(message) = events.next().await {
                let Ok(payload) = message.get_payload::<String>() else {
                    continue;
                };
                let Ok(record) = serde_json::from_str::<serde_json::Value>(&payload) else {
                    continue;
                };
                let Some(symbol) = record["symbol"].as_str() else {
                    continue;
                };
                let now = Instant::now();
                let mut g = gaps.lock().unwrap_or_else(|e| e.into_inner());
                g.records += 1;
                if let Some(last) = g.last.insert(symbol.to_owned(), now) {
                    g.longest = g.longest.max(now - last);
                }
            }
        })
    };
    let gaps_now = || {
        gaps.lock()
            .unwrap_or_else(|e| e.into_inner())
            .reset_longest()
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    one_connection_per_shard(sim, &mut outcome, "before any fault").await;
    gaps_now();

    // 1. The holder frozen past its lease, then woken.
    lab.signal(first, "STOP")?;
    let frozen = Instant::now();
    until_streamed_by(lab, second, MAX_GAP * 2).await?;
    let took = frozen.elapsed();
    tokio::time::sleep(Duration::from_secs(8).saturating_sub(took)).await;
    lab.signal(first, "CONT")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gap = gaps_now();
    outcome.check(
        gap <= MAX_GAP,
        format!(
            "holder frozen 8 s: shards taken in {:.1} s, longest symbol gap {:.1} s",
            took.as_secs_f64(),
            gap.as_secs_f64()
        ),
    );
    one_connection_per_shard(sim, &mut outcome, "after the frozen holder woke").await;

    // 2. The new holder killed.
    lab.signal(second, "KILL")?;
    let killed = Instant::now();
    until_streamed_by(lab, first, MAX_GAP * 2).await?;
    let took = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gap = gaps_now();
    outcome.check(
        gap <= MAX_GAP,
        format!(
            "holder SIGKILLed: shards taken in {:.1} s, longest symbol gap {:.1} s",
            took.as_secs_f64(),
            gap.as_secs_f64()
        ),
    );
    one_connection_per_shard(sim, &mut outcome, "after the kill").await;
    outcome.recovery = Some(took);

    // 3. A rolling restart: a new replica, then SIGTERM of the holder.
    let third = lab.spawn(Component::StreamWorker, &env)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    gaps_now();
    lab.signal(first, "TERM")?;
    let stopped = Instant::now();
    until_streamed_by(lab, third, MAX_GAP).await?;
    let took = stopped.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gap = gaps_now();
    outcome.check(
        gap <= MAX_ROLLING_GAP,
        format!(
            "rolling restart: shards taken in {:.2} s, longest symbol gap {:.2} s",
            took.as_secs_f64(),
            gap.as_secs_f64()
        ),
    );
    one_connection_per_shard(sim, &mut outcome, "after the rolling restart").await;

    watcher.abort();
    let g = gaps.lock().unwrap_or_else(|e| e.into_inner());
    outcome.jobs = g.records;
    outcome.check(
        g.last.len() >= 11,
        format!("{} records of {} symbols watched", g.records, g.last.len()),
    );
    Ok(outcome)
}

/// Waits until every shard streams from the replica `pid`.
async fn until_streamed_by(lab: &Lab, pid: u32, within: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    let marker = format!("-{pid}-");
    loop {
        let states = stream_state::load(&lab.conn, &lab.keys).await?;
        if states.len() == SHARDS
            && states
                .iter()
                .all(|s| s.phase == Phase::Streaming && s.holder.contains(&marker))
        {
            return Ok(());
        }
        if started.elapsed() > within {
            bail!("the shards were not all streamed by pid {pid} within {within:?}: {states:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks, within 3 s, that the simulator holds exactly one Binance connection per shard.
async fn one_connection_per_shard(sim: &SimHandle, outcome: &mut Outcome, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut open = 0;
    while Instant::now() < deadline {
        open = sim.stats().by_provider["binance"].streams_open;
        if open == SHARDS as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    outcome.check(
        open == SHARDS as u64,
        format!("{open} connections for {SHARDS} shards {when}"),
    );
}
