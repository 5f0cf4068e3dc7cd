//! The start-up every worker shares: settings → telemetry → Redis → the ops server
//! (`/healthz`, `/readyz`, `/metrics` on `ops.addr`) → run until SIGINT or SIGTERM (or the
//! caller's token), then stop gracefully.

use anyhow::Context;
use coinbeat_ops::Ops;
use coinbeat_shared::{
    Settings,
    jobs::Job,
    keys::Keys,
    metrics::{RedisGauges, Registry},
    queue::{JobContext, QueueRedis, RuntimeMetrics, WorkerRuntime, migrate_layout},
    redis_conn,
    service::{self, HealthEndpoint, Service},
    shutdown, telemetry,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::worker::Worker;

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

/// The `main` of the worker binary `W` (also what the image's `coinbeat` runs when called by
/// its name): the service command line ([`service`]: `run`, `healthcheck`, `--check-config`),
/// settings from `--config`/`COINBEAT_CONFIG` and the environment, logs, then the worker until a
/// signal arrives.
pub async fn main<W: Worker>() -> anyhow::Result<()> {
    let Some(settings) = service::start(&service_of::<W>())? else {
        return Ok(());
    };
    telemetry::init(W::NAME, settings.telemetry.format);
    run::<W>(settings, shutdown::on_signal()).await
}

/// The service command line of the worker `W`.
pub fn service_of<W: Worker>() -> Service {
    Service {
        name: W::NAME,
        about: W::ABOUT,
        health: HealthEndpoint::Ops,
    }
}

/// Runs the worker `W` until `stop` is cancelled, with its ops server on `ops.addr` (see
/// [`run_on`]).
pub async fn run<W: Worker>(settings: Settings, stop: CancellationToken) -> anyhow::Result<()> {
    let ops = coinbeat_ops::bind(&settings.ops).await?;
    run_on::<W>(settings, ops, stop).await
}

/// Runs the worker `W` until `stop` is cancelled, with its ops server on `ops` when given (tests
/// bind port 0) until then too.
pub async fn run_on<W: Worker>(
    settings: Settings,
    ops: Option<TcpListener>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let queue = <W::Job as Job>::queue();
    let client = redis_conn::queue_client(&settings, &queue)?;
    let queue_settings = settings.queues.for_queue(&queue);
    let env = WorkerEnv::connect(settings)
        .await
        .context("connecting to redis")?;
    let worker = W::build(&env).await?;

    let registry = Registry::new();
    let metrics = RuntimeMetrics::new(&registry);
    let timeout = env.settings.ops.redis_timeout();
    let mut gauges = RedisGauges::new(env.conn.clone(), env.keys.clone(), timeout)
        .queues_on(env.queues.clone())
        .queue(queue.clone(), queue_settings.clone());
    for &provider in W::PROVIDERS {
        gauges = gauges.provider(provider, env.settings.providers.limiter_id(provider));
    }
    let (watched, running) = (queue.clone(), metrics.clone());
    let ops_state = Ops::new(registry, gauges, env.conn.clone(), timeout, move || {
        running.is_running(&watched)
    });
    let work = async {
        let queue_conn = env.queues.conn(&queue);
        // Keys an older release left under the layout before the hash tag: moved before the
        // first fetch, so nothing waiting is stranded by an upgrade.
        migrate_layout(&queue_conn, &env.keys, &queue)
            .await
            .context("moving the queue's keys to the current layout")?;
        let beside = worker.beside(&env, stop.clone());
        let handler = move |job: W::Job, ctx: JobContext| {
            let worker = worker.clone();
            async move { worker.run(job, ctx).await }
        };
        let queue = async {
            WorkerRuntime::new(client, queue_conn, env.keys.clone(), queue_settings)
                .with_metrics(metrics)
                .run(handler, stop.clone())
                .await
                .map_err(anyhow::Error::from)
        };
        tokio::try_join!(queue, beside)?;
        Ok(())
    };
    coinbeat_ops::beside(ops, ops_state, &stop, work).await
}
