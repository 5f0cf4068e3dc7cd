//! What the shared suites share: a connection and key builder for a private redis-server's
//! settings, a producer's world on its own redis-server (`Queues`), the probe job they enqueue,
//! and the runtime of an in-process probe worker.

#![allow(dead_code)] // Each test binary uses a different part.

use coinbeat_shared::{
    Settings,
    jobs::{Job, ProbeJob},
    keys::Keys,
    queue::{EnqueueOptions, JobContext, JobResult, Producer, TaskId, WorkerRuntime},
    redis_conn,
    testing::TestRedis,
};
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

#[allow(unused_imports)] // Each test binary uses a different part.
pub use coinbeat_shared::testing::{connect, producer};

/// A private redis-server with settings, a connection, the key builder and a producer on it.
pub struct Queues {
    /// Runs as long as the test holds this.
    pub redis: TestRedis,
    pub settings: Settings,
    pub keys: Keys,
    pub conn: ConnectionManager,
    pub producer: Producer,
}

impl Queues {
    /// Starts a private Redis and connects to it with its settings after `tune`.
    pub async fn start(tune: impl FnOnce(&mut Settings)) -> Self {
        let redis = TestRedis::start();
        let mut settings = redis.settings();
        tune(&mut settings);
        Self::on(redis, settings).await
    }

    /// Connects to `redis` (already running) with `settings`.
    pub async fn on(redis: TestRedis, settings: Settings) -> Self {
        let (conn, keys, producer) = producer(&settings).await;
        Self {
            redis,
            settings,
            keys,
            conn,
            producer,
        }
    }

    /// Enqueues `job` with the default options; it must be accepted.
    pub async fn enqueue<J: Job>(&self, job: J) -> TaskId {
        enqueue(&self.producer, &job).await
    }

    /// A worker runtime for the probe queue on this Redis, as a worker process builds it.
    pub fn probe_runtime(&self) -> WorkerRuntime {
        probe_runtime(&self.settings, &self.conn)
    }

    /// Starts an in-process worker for the probe queue with `handler`; cancel the token to
    /// stop it.
    pub fn run_worker<H, Fut>(&self, handler: H) -> (CancellationToken, tokio::task::JoinHandle<()>)
    where
        H: Fn(ProbeJob, JobContext) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let rt = self.probe_runtime();
        let s = stop.clone();
        let h = tokio::spawn(async move { rt.run(handler, s).await.unwrap() });
        (stop, h)
    }
}

/// Enqueues `job` with `producer` and the default options; it must be accepted.
pub async fn enqueue<J: Job>(producer: &Producer, job: &J) -> TaskId {
    producer
        .enqueue(job, EnqueueOptions::default())
        .await
        .unwrap()
}

/// A worker runtime for the probe queue on the Redis of `settings`.
pub fn probe_runtime(settings: &Settings, conn: &ConnectionManager) -> WorkerRuntime {
    WorkerRuntime::new(
        redis_conn::client(&settings.redis).unwrap(),
        conn.clone(),
        Keys::new(settings.redis.key_prefix.clone()),
        settings.queues.for_queue(&ProbeJob::queue()),
    )
}

/// The probe job number `seq`, with no failure and no sleep.
pub fn probe(seq: u64) -> ProbeJob {
    ProbeJob {
        seq,
        ..ProbeJob::default()
    }
}
