//! The start-up every worker shares: settings → telemetry → Redis → the ops server
//! (`/healthz`, `/readyz`, `/metrics` on `ops.addr`) → run until SIGINT or SIGTERM (or the
//! caller's token), then stop gracefully.

use std::future::Future;

use anyhow::Context;
use coinbeat_ops::Ops;
use coinbeat_shared::{
    Settings,
    jobs::Job,
    keys::Keys,
    metrics::{RedisGauges, Registry},
    queue::{JobContext, JobResult, QueueRedis, RuntimeMetrics, WorkerRuntime, migrate_layout},
    ratelimit::Provider,
    redis_conn,
    service::{self, HealthEndpoint, Service},
    shutdown, telemetry,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::registry;

/// Everything a handler factory may need, built once per process.
#[derive(Debug, Clone)]
pub struct WorkerEnv {
    pub settings: Settings,
    pub keys: Keys,
    /// The deployment's Redis: caches, limiters, breakers, schedules.
    pub conn: redis::aio::ConnectionManager,
    /// Each queue's Redis (the deployment's, or the queue's own `redis_url`).
    pub queues: QueueRedis,
}

impl WorkerEnv {
    /// Connects to the Redis of `settings`, and to every queue's own Redis.
    pub async fn connect(settings: Settings) -> Result<Self, redis_conn::ConnectError> {
        let conn = redis_conn::connect(&settings.redis).await?;
        let queues = redis_conn::connect_queues(&settings, conn.clone()).await?;
        let keys = Keys::new(settings.redis.key_prefix.clone());
        Ok(Self {
            settings,
            keys,
            conn,
            queues,
        })
    }
}

/// The `main` of the worker binary called `name` (also what the image's `coinbeat` runs when
/// called by that name): the service command line ([`service`]: `run`, `healthcheck`,
/// `--check-config`), settings from `--config`/`COINBEAT_CONFIG` and the environment, logs,
/// then the worker until a signal arrives.
pub async fn main(name: &'static str) -> anyhow::Result<()> {
    let about = registry::about(name).with_context(|| format!("no worker called {name:?}"))?;
    let service = Service {
        name,
        about,
        health: HealthEndpoint::Ops,
    };
    let Some(settings) = service::start(&service)? else {
        return Ok(());
    };
    telemetry::init(name, settings.telemetry.format);
    registry::run(name, settings, shutdown::on_signal()).await
}

/// Runs the worker of `J`'s queue with the handler `make` builds, until `stop` is cancelled,
/// with its ops server on `ops` (if any) until then too. `providers` are the upstreams the
/// handler calls, whose limiter and breaker the ops server reports.
pub async fn run<J, H, Fut>(
    settings: Settings,
    ops: Option<TcpListener>,
    stop: CancellationToken,
    providers: &[Provider],
    make: impl FnOnce(&WorkerEnv) -> anyhow::Result<H>,
) -> anyhow::Result<()>
where
    J: Job,
    H: Fn(J, JobContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    let client = redis_conn::queue_client(&settings, &J::queue())?;
    let queue_settings = settings.queues.for_queue(&J::queue());
    let env = WorkerEnv::connect(settings)
        .await
        .context("connecting to redis")?;
    let handler = make(&env)?;

    let registry = Registry::new();
    let metrics = RuntimeMetrics::new(&registry);
    let timeout = env.settings.ops.redis_timeout();
    let mut gauges = RedisGauges::new(env.conn.clone(), env.keys.clone(), timeout)
        .queues_on(env.queues.clone())
        .queue(J::queue(), queue_settings.clone());
    for &provider in providers {
        gauges = gauges.provider(provider, env.settings.providers.limiter_id(provider));
    }
    let (queue, running) = (J::queue(), metrics.clone());
    let ops_state = Ops::new(registry, gauges, env.conn.clone(), timeout, move || {
        running.is_running(&queue)
    });
    let server = coinbeat_ops::spawn(ops, ops_state, stop.clone());

    let queue_conn = env.queues.conn(&J::queue());
    // Keys an older release left under the layout before the hash tag: moved before the first
    // fetch, so nothing waiting is stranded by an upgrade.
    migrate_layout(&queue_conn, &env.keys, &J::queue())
        .await
        .context("moving the queue's keys to the current layout")?;
    WorkerRuntime::new(client, queue_conn, env.keys.clone(), queue_settings)
        .with_metrics(metrics)
        .run(handler, stop)
        .await?;
    if let Some(server) = server {
        let _ = server.await;
    }
    Ok(())
}
