//! Every worker by name: what `coinbeat up` starts and what each thin binary runs.

use anyhow::{Context, bail};
use coinbeat_shared::{
    Settings,
    jobs::{
        CatalogueJob, CleanupJob, HealthJob, Job, MarketJob, PricesJob, ProbeJob, QueueName,
        WalletJob,
    },
    queue::JobContext,
    ratelimit::Provider,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    boot::{self, WorkerEnv},
    catalogue::CatalogueWorker,
    cleanup::CleanupWorker,
    health::HealthWorker,
    market::MarketWorker,
    prices::PriceWorker,
    probe,
    wallet::WalletWorker,
};

/// The product's worker binaries, one per queue and the `stream-worker` (no queue); `coinbeat
/// up` runs one replica of each.
pub const PRODUCT_WORKERS: &[&str] = &[
    "price-worker",
    "market-worker",
    "wallet-worker",
    "health-worker",
    "cleanup-worker",
    "catalogue-worker",
    "stream-worker",
];

/// The queue the worker called `name` runs; `None` for a name that is no worker.
pub fn queue(name: &str) -> Option<QueueName> {
    Some(match name {
        "price-worker" => PricesJob::queue(),
        "market-worker" => MarketJob::queue(),
        "wallet-worker" => WalletJob::queue(),
        "health-worker" => HealthJob::queue(),
        "cleanup-worker" => CleanupJob::queue(),
        "catalogue-worker" => CatalogueJob::queue(),
        "probe-worker" => ProbeJob::queue(),
        _ => return None,
    })
}

/// What the worker called `name` does, for its `--help`.
pub fn about(name: &str) -> Option<&'static str> {
    Some(match name {
        "price-worker" => {
            "Runs the `prices` queue: fetches prices (CoinGecko, Binance as fallback) into the cache."
        }
        "market-worker" => {
            "Runs the `market` queue: market lists, global figures and coin details (CoinGecko, CoinLore as fallback)."
        }
        "wallet-worker" => "Runs the `wallet` queue: wallet analyses from Etherscan.",
        "health-worker" => "Runs the `health` queue: checks every upstream and records the report.",
        "cleanup-worker" => {
            "Runs the `cleanup` queue: prunes finished tasks, old history and expired records."
        }
        "catalogue-worker" => {
            "Runs the `catalogue` queue: every listed coin with its rank, symbol, name and contracts (CoinGecko, CoinLore as fallback)."
        }
        "probe-worker" => {
            "Runs the `probe` queue: diagnostic tasks for benchmarks and fault tests."
        }
        "stream-worker" => {
            "Streams live prices from Binance (CoinCap as the second source) into the cache, one lease per shard of symbols across replicas."
        }
        _ => return None,
    })
}

/// The upstreams the worker called `name` calls, whose limiter and breaker its ops server
/// reports.
pub fn providers(name: &str) -> &'static [Provider] {
    match name {
        "price-worker" => &[Provider::CoinGecko, Provider::Binance],
        "market-worker" | "catalogue-worker" => &[Provider::CoinGecko, Provider::CoinLore],
        "wallet-worker" => &[Provider::Etherscan],
        "health-worker" => &Provider::ALL,
        _ => &[],
    }
}

/// Runs the worker called `name` until `stop` is cancelled, with its ops server on `ops.addr`
/// (see [`run_on`]).
pub async fn run(name: &str, settings: Settings, stop: CancellationToken) -> anyhow::Result<()> {
    let ops = coinbeat_ops::bind(&settings.ops).await?;
    run_on(name, settings, ops, stop).await
}

/// Runs the worker called `name` until `stop` is cancelled, with its ops server on `ops` when
/// given (tests bind port 0).
pub async fn run_on(
    name: &str,
    settings: Settings,
    ops: Option<TcpListener>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let providers = providers(name);
    match name {
        "price-worker" => {
            move_symbol_keyed_prices(&settings).await?;
            boot::run::<PricesJob, _, _>(settings, ops, stop, providers, |env: &WorkerEnv| {
                let worker = PriceWorker::new(env)?;
                Ok(move |job: PricesJob, _ctx: JobContext| {
                    let worker = worker.clone();
                    async move { worker.handle(job).await }
                })
            })
            .await
        }
        "market-worker" => {
            boot::run::<MarketJob, _, _>(settings, ops, stop, providers, |env: &WorkerEnv| {
                let worker = MarketWorker::new(env)?;
                Ok(move |job: MarketJob, _ctx: JobContext| {
                    let worker = worker.clone();
                    async move { worker.handle(job).await }
                })
            })
            .await
        }
        "health-worker" => {
            boot::run::<HealthJob, _, _>(settings, ops, stop, providers, |env: &WorkerEnv| {
                let worker = HealthWorker::new(env)?;
                Ok(move |job: HealthJob, _ctx: JobContext| {
                    let worker = worker.clone();
                    async move { worker.handle(job).await }
                })
            })
            .await
        }
        "cleanup-worker" => {
            boot::run::<CleanupJob, _, _>(settings, ops, stop, providers, |env: &WorkerEnv| {
                let worker = CleanupWorker::new(env);
                Ok(move |job: CleanupJob, _ctx: JobContext| {
                    let worker = worker.clone();
                    async move { worker.handle(job).await }
                })
            })
            .await
        }
        "catalogue-worker" => {
            boot::run::<CatalogueJob, _, _>(settings, ops, stop, providers, |env: &WorkerEnv| {
                let worker = CatalogueWorker::new(env)?;
                Ok(move |job: CatalogueJob, _ctx: JobContext| {
                    let worker = worker.clone();
                    async move { worker.handle(job).await }
                })
            })
            .await
        }
        "wallet-worker" => {
            boot::run::<WalletJob, _, _>(settings, ops, stop, providers, |env: &WorkerEnv| {
                let worker = WalletWorker::new(env)?;
                Ok(move |job: WalletJob, _ctx: JobContext| {
                    let worker = worker.clone();
                    async move { worker.handle(job).await }
                })
            })
            .await
        }
        "probe-worker" => {
            boot::run::<ProbeJob, _, _>(settings, ops, stop, providers, |env: &WorkerEnv| {
                let (conn, keys) = (env.conn.clone(), env.keys.clone());
                Ok(move |job: ProbeJob, ctx: JobContext| {
                    probe::handle(conn.clone(), keys.clone(), job, ctx)
                })
            })
            .await
        }
        "stream-worker" => crate::stream::run(settings, ops, stop).await,
        other => bail!(
            "no worker called {other:?}; known: {}, probe-worker",
            PRODUCT_WORKERS.join(", ")
        ),
    }
}

/// Moves price records an older release kept under a symbol to their coin id's keys, before the
/// price worker writes any (see `cache::migrate_symbol_keys`).
async fn move_symbol_keyed_prices(settings: &Settings) -> anyhow::Result<()> {
    let conn = coinbeat_shared::redis_conn::connect(&settings.redis)
        .await
        .context("connecting to redis")?;
    let keys = coinbeat_shared::keys::Keys::new(settings.redis.key_prefix.clone());
    coinbeat_shared::cache::migrate_symbol_keys(&conn, &keys, settings.prices.history_points)
        .await
        .context("moving price records from symbol keys to coin id keys")?;
    Ok(())
}
