//! The start-up every worker binary shares: settings → telemetry → Redis → run until SIGINT or
//! SIGTERM, then stop gracefully.

use std::{future::Future, path::PathBuf};

use anyhow::Context;
use coinbeat_shared::{
    Settings,
    jobs::Job,
    keys::Keys,
    queue::{JobContext, JobResult, WorkerRuntime},
    redis_conn, shutdown, telemetry,
};

/// Everything a handler factory may need, built once per process.
#[derive(Debug, Clone)]
pub struct WorkerEnv {
    pub settings: Settings,
    pub keys: Keys,
    pub conn: redis::aio::ConnectionManager,
}

/// Runs the worker of `J`'s queue with the handler `make` builds, until a signal arrives.
/// Settings come from `COINBEAT_CONFIG` (a TOML file, optional) and the environment.
pub async fn run<J, H, Fut>(service: &str, make: impl FnOnce(&WorkerEnv) -> H) -> anyhow::Result<()>
where
    J: Job,
    H: Fn(J, JobContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    let config = std::env::var_os("COINBEAT_CONFIG").map(PathBuf::from);
    let settings = Settings::load(config.as_deref()).context("loading settings")?;
    telemetry::init(service, settings.telemetry.format);
    let client = redis_conn::client(&settings.redis)?;
    let conn = redis_conn::connect(&settings.redis)
        .await
        .context("connecting to redis")?;
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let queue_settings = settings.queues.for_queue(&J::queue());
    let env = WorkerEnv {
        settings: settings.clone(),
        keys: keys.clone(),
        conn: conn.clone(),
    };
    let handler = make(&env);
    let stop = shutdown::on_signal();
    WorkerRuntime::new(client, conn, keys, queue_settings)
        .run(handler, stop)
        .await?;
    Ok(())
}
