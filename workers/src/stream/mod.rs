//! `stream-worker`: live prices from exchange streams, written to the same price cache the REST
//! beat fills, newest by the exchange's event time winning whichever path wrote it.
//!
//! - The streamed symbols (`streams.symbols`, or the tracked set, read again every
//!   `symbols_refresh_secs`) are split in sorted order into shards of `shard_size`.
//! - Each shard is held by one replica at a time through a lease in Redis ([`shard`]); every
//!   replica runs a task per shard that streams while it holds the lease and waits otherwise.
//! - A holder streams Binance's combined streams and fails over to CoinCap's prices stream
//!   while Binance is silent ([`feed`]); with both down the REST beat alone keeps the prices.
//! - Events are coalesced per symbol over `coalesce_ms` ([`coalesce`]) and written in one
//!   script call per window (`PriceCache::write_ticks`), which publishes each record on the
//!   price event channel the API's SSE and WebSocket clients read.

mod coalesce;
mod feed;
mod metrics;
mod shard;
mod source;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use chrono::Utc;
use coinbeat_ops::Ops;
use coinbeat_shared::{
    Settings,
    cache::PriceCache,
    domain::Symbol,
    keys::Keys,
    metrics::{RedisGauges, Registry},
    queue::replica_name,
    redis_conn, stream_state, tracked_symbols,
};
use redis::aio::ConnectionManager;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::coalesce::Coalescer;
use self::metrics::StreamMetrics;
use self::shard::ShardTask;
use self::source::{Source, Update};

/// Updates waiting for the coalescer; a full channel slows the feeds rather than growing.
const CHANNEL: usize = 65_536;

/// Runs the stream-worker until `stop`, with its ops server on `ops` when given.
pub async fn run(
    settings: Settings,
    ops: Option<TcpListener>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let conn = redis_conn::connect(&settings.redis)
        .await
        .context("connecting to redis")?;
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let holder = replica_name("stream");

    let registry = Registry::new();
    let metrics = StreamMetrics::new(&registry);
    let timeout = settings.ops.redis_timeout();
    let running = Arc::new(AtomicBool::new(true));
    let ops_state = Ops::new(
        registry,
        RedisGauges::new(conn.clone(), keys.clone(), timeout),
        conn.clone(),
        timeout,
        {
            let running = running.clone();
            move || running.load(Ordering::Relaxed)
        },
    );
    let server = coinbeat_ops::spawn(ops, ops_state, stop.clone());

    let (updates, incoming) = mpsc::channel(CHANNEL);
    let cache = PriceCache::new(conn.clone(), keys.clone(), &settings.prices)
        .with_tick_history_every(std::time::Duration::from_secs(
            settings.streams.history_every_secs,
        ));
    let writer = tokio::spawn(write_windows(
        incoming,
        cache,
        settings.clone(),
        metrics.clone(),
    ));

    tracing::info!(holder, "stream-worker started");
    if settings.streams.enabled {
        stream_until(&stop, &settings, &conn, &keys, &holder, &updates, &metrics).await?;
    } else {
        tracing::info!("streams.enabled is off: streaming nothing");
        stop.cancelled().await;
    }
    running.store(false, Ordering::Relaxed);
    drop(updates);
    let _ = writer.await;
    if let Some(server) = server {
        let _ = server.await;
    }
    tracing::info!("stream-worker stopped");
    Ok(())
}

/// One task per shard of the streamed symbols, started again whenever the symbol set
/// changes, until `stop`.
async fn stream_until(
    stop: &CancellationToken,
    settings: &Settings,
    conn: &ConnectionManager,
    keys: &Keys,
    holder: &str,
    updates: &mpsc::Sender<Update>,
    metrics: &StreamMetrics,
) -> anyhow::Result<()> {
    let mut symbols = streamed_symbols(conn, keys, settings).await?;
    loop {
        let epoch = stop.child_token();
        let shards: Vec<Vec<Symbol>> = symbols
            .chunks(settings.streams.shard_size)
            .map(<[Symbol]>::to_vec)
            .collect();
        tracing::info!(symbols = symbols.len(), shards = shards.len(), "streaming");
        if let Err(e) = stream_state::remove_from(conn, keys, shards.len() as u32).await {
            tracing::warn!(error = %e, "could not clear the states of gone shards");
        }
        let tasks: Vec<_> = shards
            .into_iter()
            .enumerate()
            .map(|(shard, symbols)| {
                let task = ShardTask {
                    shard: shard as u32,
                    symbols,
                    holder: holder.to_owned(),
                    settings: settings.clone(),
                    conn: conn.clone(),
                    keys: keys.clone(),
                    updates: updates.clone(),
                    metrics: metrics.clone(),
                };
                tokio::spawn(task.run(epoch.clone()))
            })
            .collect();
        let changed = loop {
            tokio::select! {
                () = stop.cancelled() => break None,
                () = tokio::time::sleep(std::time::Duration::from_secs(
                    settings.streams.symbols_refresh_secs.max(1),
                )) => {}
            }
            match streamed_symbols(conn, keys, settings).await {
                Ok(now) if now != symbols => break Some(now),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not read the tracked set"),
            }
        };
        epoch.cancel();
        for task in tasks {
            let _ = task.await;
        }
        match changed {
            Some(now) => {
                tracing::info!(
                    before = symbols.len(),
                    now = now.len(),
                    "the symbol set changed"
                );
                symbols = now;
            }
            None => return Ok(()),
        }
    }
}

/// The symbols to stream, sorted: `streams.symbols`, or the tracked set; only those with a
/// coin id (a record names its coin).
async fn streamed_symbols(
    conn: &ConnectionManager,
    keys: &Keys,
    settings: &Settings,
) -> anyhow::Result<Vec<Symbol>> {
    let mut symbols = if settings.streams.symbols.is_empty() {
        tracked_symbols::load(conn, keys, &settings.prices)
            .await
            .context("reading the tracked set")?
    } else {
        settings.streams.symbols.clone()
    };
    symbols.retain(|s| settings.prices.coin(s).is_some());
    symbols.sort();
    symbols.dedup();
    Ok(symbols)
}

/// Gathers updates into windows of `coalesce_ms` and writes each window at once, until every
/// sender is gone (then the last window is written).
async fn write_windows(
    mut incoming: mpsc::Receiver<Update>,
    cache: PriceCache,
    settings: Settings,
    metrics: StreamMetrics,
) {
    let mut window = Coalescer::default();
    let mut clock = tokio::time::interval(settings.streams.coalesce());
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let coin_id = |s: &Symbol| settings.prices.coin(s);
    loop {
        tokio::select! {
            update = incoming.recv() => match update {
                Some(update) => window.add(update),
                None => break,
            },
            _ = clock.tick() => {
                if !window.is_empty() {
                    write(&cache, window.take(coin_id), &metrics).await;
                }
            }
        }
    }
    if !window.is_empty() {
        write(&cache, window.take(coin_id), &metrics).await;
    }
}

async fn write(
    cache: &PriceCache,
    records: Vec<(Source, coinbeat_shared::cache::PriceRecord)>,
    metrics: &StreamMetrics,
) {
    let (sources, records): (Vec<Source>, Vec<_>) = records.into_iter().unzip();
    match cache.write_ticks(&records).await {
        Ok(_) => {
            let now = Utc::now();
            for (source, record) in sources.iter().zip(&records) {
                let name = source.name();
                metrics.written.inc(&[name]);
                if let Some(at) = record.upstream_updated_at {
                    let age = (now - at).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
                    metrics.age_at_write.observe(&[name], age);
                }
            }
        }
        Err(e) => {
            metrics.write_errors.inc(&[]);
            tracing::warn!(error = %e, records = records.len(), "could not write a window of ticks");
        }
    }
}
