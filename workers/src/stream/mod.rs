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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use chrono::Utc;
use coinbeat_ops::Ops;
use coinbeat_shared::{
    Settings,
    cache::PriceCache,
    catalogue::{CatalogueCache, CatalogueStore},
    domain::{CoinId, Symbol},
    keys::Keys,
    metrics::{RedisGauges, Registry},
    queue::replica_name,
    redis_conn,
    service::{self, HealthEndpoint, Service},
    shutdown, stream_state, telemetry, tracked_symbols,
};
use redis::aio::ConnectionManager;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use self::coalesce::Coalescer;
use self::metrics::StreamMetrics;
use self::shard::ShardTask;
use self::source::{Source, Update};

/// Streamed symbol → the coin it names.
type Coins = BTreeMap<Symbol, CoinId>;

/// How long the stream-worker trusts its copy of the catalogue before asking whether it changed.
const CATALOGUE_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// Updates waiting for the coalescer; a full channel slows the feeds rather than growing.
const CHANNEL: usize = 65_536;

/// The stream-worker's service command line (`run`, `healthcheck`, `--check-config`).
pub const SERVICE: Service = Service {
    name: "stream-worker",
    about: "Streams live prices from Binance (CoinCap as the second source) into the cache, one \
            lease per shard of symbols across replicas.",
    health: HealthEndpoint::Ops,
};

/// The `main` of the `stream-worker` binary (and of the image's `coinbeat` called by that
/// name): the service command line, logs, then the worker until a signal arrives.
pub async fn main() -> anyhow::Result<()> {
    let Some(settings) = service::start(&SERVICE)? else {
        return Ok(());
    };
    telemetry::init(SERVICE.name, settings.telemetry.format);
    run(settings, shutdown::on_signal()).await
}

/// Runs the stream-worker until `stop`, with its ops server on `ops.addr`.
pub async fn run(settings: Settings, stop: CancellationToken) -> anyhow::Result<()> {
    let ops = coinbeat_ops::bind(&settings.ops).await?;
    run_on(settings, ops, stop).await
}

/// Runs the stream-worker until `stop`, with its ops server on `ops` when given.
pub async fn run_on(
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
    let work = async {
        let (updates, incoming) = mpsc::channel(CHANNEL);
        // The coin each streamed symbol names, as of the last read of the symbol set.
        let (coins_tx, coins) = watch::channel(Arc::new(Coins::new()));
        let cache = PriceCache::new(conn.clone(), keys.clone(), &settings.prices)
            .with_tick_history_every(std::time::Duration::from_secs(
                settings.streams.history_every_secs,
            ));
        let writer = tokio::spawn(write_windows(
            incoming,
            cache,
            coins,
            settings.clone(),
            metrics.clone(),
        ));

        tracing::info!(holder, "stream-worker started");
        if settings.streams.enabled {
            let catalogue = CatalogueCache::new(
                CatalogueStore::new(conn.clone(), keys.clone()),
                settings.prices.coins.clone(),
                CATALOGUE_RECHECK,
            );
            let shared = Shared {
                settings: &settings,
                conn: &conn,
                keys: &keys,
                catalogue: &catalogue,
                holder: &holder,
                updates: &updates,
                metrics: &metrics,
                coins: &coins_tx,
            };
            stream_until(&stop, &shared).await?;
        } else {
            tracing::info!("streams.enabled is off: streaming nothing");
            stop.cancelled().await;
        }
        running.store(false, Ordering::Relaxed);
        drop(updates);
        let _ = writer.await;
        anyhow::Ok(())
    };
    coinbeat_ops::beside(ops, ops_state, &stop, work).await?;
    tracing::info!("stream-worker stopped");
    Ok(())
}

/// What the streaming loop shares with every shard it starts.
struct Shared<'a> {
    settings: &'a Settings,
    conn: &'a ConnectionManager,
    keys: &'a Keys,
    catalogue: &'a CatalogueCache,
    holder: &'a str,
    updates: &'a mpsc::Sender<Update>,
    metrics: &'a StreamMetrics,
    coins: &'a watch::Sender<Arc<Coins>>,
}

/// One task per shard of the streamed symbols, started again whenever the symbol set
/// changes, until `stop`.
async fn stream_until(stop: &CancellationToken, shared: &Shared<'_>) -> anyhow::Result<()> {
    let Shared {
        settings,
        conn,
        keys,
        holder,
        updates,
        metrics,
        ..
    } = *shared;
    let mut coins = streamed_coins(shared).await?;
    loop {
        let symbols: Vec<Symbol> = coins.keys().cloned().collect();
        shared.coins.send_replace(Arc::new(coins.clone()));
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
                    coins: symbols
                        .iter()
                        .filter_map(|s| Some((s.clone(), coins.get(s)?.clone())))
                        .collect(),
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
            match streamed_coins(shared).await {
                Ok(now) if now != coins => break Some(now),
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
                    before = coins.len(),
                    now = now.len(),
                    "the symbol set changed"
                );
                coins = now;
            }
            None => return Ok(()),
        }
    }
}

/// The symbols to stream, sorted, with the coin each names: `streams.symbols`, or the tracked
/// set; only those that name a coin (`Catalogue::name_symbol`, as the API and the price
/// worker resolve them), since a record names its coin.
async fn streamed_coins(shared: &Shared<'_>) -> anyhow::Result<Coins> {
    let settings = shared.settings;
    let symbols = if settings.streams.symbols.is_empty() {
        tracked_symbols::load(shared.conn, shared.keys, &settings.prices)
            .await
            .context("reading the tracked set")?
    } else {
        settings.streams.symbols.clone()
    };
    let catalogue = shared
        .catalogue
        .get()
        .await
        .context("reading the coin catalogue")?;
    Ok(symbols
        .into_iter()
        .filter_map(|symbol| {
            let coin = catalogue.name_symbol(&settings.prices, &symbol)?.id;
            Some((symbol, coin))
        })
        .collect())
}

/// Gathers updates into windows of `coalesce_ms` and writes each window at once, until every
/// sender is gone (then the last window is written).
async fn write_windows(
    mut incoming: mpsc::Receiver<Update>,
    cache: PriceCache,
    coins: watch::Receiver<Arc<Coins>>,
    settings: Settings,
    metrics: StreamMetrics,
) {
    let mut window = Coalescer::default();
    let mut clock = tokio::time::interval(settings.streams.coalesce());
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let coin_id = |s: &Symbol| coins.borrow().get(s).cloned();
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
