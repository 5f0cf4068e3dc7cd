//! [`Ops`]: what the ops server answers with, built once per process.

use std::{fmt, sync::Arc, time::Duration};

use coinbeat_shared::metrics::{RedisGauges, Registry, TextWriter};
use redis::aio::ConnectionManager;

/// The process's metrics and how to tell whether it is ready. Cheap to clone.
#[derive(Clone)]
pub struct Ops {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    gauges: RedisGauges,
    conn: ConnectionManager,
    redis_timeout: Duration,
    /// Whether the process's runtime runs now (its own view; Redis is checked apart).
    running: Box<dyn Fn() -> bool + Send + Sync>,
    /// Whether the process can do useful work while Redis does not answer (the API, from its
    /// copy of the prices); `None`: it cannot.
    without_redis: Option<Box<dyn Fn() -> bool + Send + Sync>>,
}

impl fmt::Debug for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ops")
            .field("registry", &self.inner.registry)
            .field("gauges", &self.inner.gauges)
            .field("redis_timeout", &self.inner.redis_timeout)
            .finish_non_exhaustive()
    }
}

/// Why the process is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotReady {
    Redis,
    NotRunning,
}

/// How ready a process is that is not [`NotReady`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    Fully,
    /// Redis does not answer, but the process serves what it can without it.
    Degraded,
}

impl Ops {
    /// `conn` is pinged for readiness; `running` says whether the runtime runs.
    pub fn new(
        registry: Registry,
        gauges: RedisGauges,
        conn: ConnectionManager,
        redis_timeout: Duration,
        running: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                gauges,
                conn,
                redis_timeout,
                running: Box::new(running),
                without_redis: None,
            }),
        }
    }

    /// Says the process stays useful while Redis does not answer, as long as `serves` says
    /// so: `/readyz` then answers 200 `degraded` rather than 503. Call it on a new [`Ops`],
    /// before it is cloned.
    pub fn serving_without_redis(
        mut self,
        serves: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("serving_without_redis is called on a new Ops")
            .without_redis = Some(Box::new(serves));
        self
    }

    pub(crate) async fn readiness(&self) -> Result<Ready, NotReady> {
        let mut conn = self.inner.conn.clone();
        let ping = tokio::time::timeout(
            self.inner.redis_timeout,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await;
        let ready = match (ping, &self.inner.without_redis) {
            (Ok(Ok(_)), _) => Ready::Fully,
            (_, Some(serves)) if serves() => Ready::Degraded,
            _ => return Err(NotReady::Redis),
        };
        if !(self.inner.running)() {
            return Err(NotReady::NotRunning);
        }
        Ok(ready)
    }

    /// The exposition document: in-process metrics, then the Redis gauges.
    pub(crate) async fn scrape(&self) -> String {
        let mut w = TextWriter::new();
        self.inner.registry.render_into(&mut w);
        self.inner.gauges.render_into(&mut w).await;
        w.finish()
    }
}
