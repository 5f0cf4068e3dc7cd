//! The `health` queue: probe every configured upstream, Redis, each queue and its workers, and
//! store the report the API serves at `GET /v1/health`.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use chrono::Utc;
use coinbeat_shared::{
    Settings,
    cache::{HealthReport, QueueHealth, RedisHealth, Status, UpstreamHealth},
    jobs::{HealthJob, Queue},
    keys::Keys,
    queue::{JobError, JobResult, queue_stats},
};
use redis::aio::ConnectionManager;

use crate::{binance::Binance, boot::WorkerEnv, coingecko::CoinGecko};

/// Handles `health` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HealthWorker {
    conn: ConnectionManager,
    keys: Keys,
    settings: Settings,
    coingecko: CoinGecko,
    binance: Option<Binance>,
}

impl HealthWorker {
    pub fn new(env: &WorkerEnv) -> anyhow::Result<Self> {
        let providers = &env.settings.providers;
        let binance = providers
            .binance
            .enabled
            .then(|| Binance::new(&providers.binance))
            .transpose()?;
        Ok(Self {
            conn: env.conn.clone(),
            keys: env.keys.clone(),
            settings: env.settings.clone(),
            coingecko: CoinGecko::new(&providers.coingecko)?,
            binance,
        })
    }

    pub async fn handle(&self, _job: HealthJob) -> JobResult {
        let binance = async {
            match &self.binance {
                Some(binance) => Some(self.probe("binance", binance.ping()).await),
                None => None,
            }
        };
        let (coingecko, binance, redis, queues) = tokio::join!(
            self.probe("coingecko", self.coingecko.ping()),
            binance,
            self.redis(),
            self.queues()
        );
        let upstreams: Vec<UpstreamHealth> =
            [Some(coingecko), binance].into_iter().flatten().collect();
        let queues = queues?;
        let report = HealthReport {
            status: HealthReport::overall(&upstreams, &redis, &queues),
            checked_at: Utc::now(),
            upstreams,
            redis,
            queues,
        };
        report
            .store(&self.conn, &self.keys, self.settings.health.report_ttl_secs)
            .await
            .map_err(|e| JobError::transient(format!("storing the report: {e}")))?;
        Ok(Some(
            serde_json::to_value(&report).expect("reports serialize"),
        ))
    }

    /// Times one probe: down on error or timeout, degraded when slow.
    async fn probe<E: std::fmt::Display>(
        &self,
        name: &str,
        call: impl Future<Output = Result<(), E>>,
    ) -> UpstreamHealth {
        let health = &self.settings.health;
        let started = Instant::now();
        let outcome =
            tokio::time::timeout(Duration::from_millis(health.probe_timeout_ms), call).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (status, error) = match outcome {
            Ok(Ok(())) if latency_ms > health.slow_ms => (Status::Degraded, None),
            Ok(Ok(())) => (Status::Up, None),
            Ok(Err(e)) => (Status::Down, Some(e.to_string())),
            Err(_) => (
                Status::Down,
                Some(format!("no answer within {} ms", health.probe_timeout_ms)),
            ),
        };
        UpstreamHealth {
            name: name.to_owned(),
            status,
            latency_ms,
            error,
        }
    }

    async fn redis(&self) -> RedisHealth {
        let started = Instant::now();
        let mut conn = self.conn.clone();
        let ping: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
        let latency_us = started.elapsed().as_micros() as u64;
        let info: redis::RedisResult<String> = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await;
        let used_memory_bytes = info.ok().and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("used_memory:"))
                .and_then(|v| v.trim().parse().ok())
        });
        RedisHealth {
            status: if ping.is_ok() {
                Status::Up
            } else {
                Status::Down
            },
            latency_us,
            used_memory_bytes,
        }
    }

    /// Down: tasks wait and no worker is alive to run them. Degraded: the oldest waits too long
    /// or tasks have died.
    async fn queues(&self) -> Result<Vec<QueueHealth>, JobError> {
        let lag = Duration::from_secs(self.settings.health.queue_lag_secs).as_millis() as u64;
        let mut out = Vec::with_capacity(Queue::ALL.len());
        for queue in Queue::ALL {
            let name = queue.name();
            let s = queue_stats(
                &self.conn,
                &self.keys,
                &name,
                &self.settings.queues.for_queue(&name),
            )
            .await
            .map_err(|e| JobError::transient(format!("reading queue {name}: {e}")))?;
            let status = if s.waiting > 0 && s.live_workers == 0 {
                Status::Down
            } else if s.oldest_waiting_ms.is_some_and(|ms| ms > lag) {
                Status::Degraded
            } else {
                Status::Up
            };
            out.push(QueueHealth {
                queue: name.to_string(),
                status,
                waiting: s.waiting + s.scheduled_due,
                oldest_waiting_ms: s.oldest_waiting_ms,
                dead: s.dead,
                live_workers: s.live_workers,
            });
        }
        Ok(out)
    }
}
