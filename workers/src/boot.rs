//! The start-up every worker shares: settings → telemetry → Redis → run until SIGINT or
//! SIGTERM (or the caller's token), then stop gracefully.

use std::{future::Future, path::PathBuf};

use anyhow::Context;
use coinbeat_shared::{
    Settings,
    jobs::Job,
    keys::Keys,
    queue::{JobContext, JobResult, WorkerRuntime},
    redis_conn, shutdown, telemetry,
};
use tokio_util::sync::CancellationToken;

use crate::registry;

/// Everything a handler factory may need, built once per process.
#[derive(Debug, Clone)]
pub struct WorkerEnv {
    pub settings: Settings,
    pub keys: Keys,
    pub conn: redis::aio::ConnectionManager,
}

impl WorkerEnv {
    /// Connects to the Redis of `settings`.
    pub async fn connect(settings: Settings) -> Result<Self, redis_conn::ConnectError> {
        let conn = redis_conn::connect(&settings.redis).await?;
        let keys = Keys::new(settings.redis.key_prefix.clone());
        Ok(Self {
            settings,
            keys,
            conn,
        })
    }
}

/// The `main` of a worker binary: settings from `COINBEAT_CONFIG` (a TOML file, optional) and
/// the environment, logs, then the worker called `name` until a signal arrives.
pub async fn main(name: &str) -> anyhow::Result<()> {
    let config = std::env::var_os("COINBEAT_CONFIG").map(PathBuf::from);
    let settings = Settings::load(config.as_deref()).context("loading settings")?;
    telemetry::init(name, settings.telemetry.format);
    registry::run(name, settings, shutdown::on_signal()).await
}

/// Runs the worker of `J`'s queue with the handler `make` builds, until `stop` is cancelled.
pub async fn run<J, H, Fut>(
    settings: Settings,
    stop: CancellationToken,
    make: impl FnOnce(&WorkerEnv) -> anyhow::Result<H>,
) -> anyhow::Result<()>
where
    J: Job,
    H: Fn(J, JobContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    let client = redis_conn::client(&settings.redis)?;
    let queue_settings = settings.queues.for_queue(&J::queue());
    let env = WorkerEnv::connect(settings)
        .await
        .context("connecting to redis")?;
    let handler = make(&env)?;
    WorkerRuntime::new(client, env.conn.clone(), env.keys.clone(), queue_settings)
        .run(handler, stop)
        .await?;
    Ok(())
}
