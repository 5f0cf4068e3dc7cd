//! The `health` queue: probe every configured upstream (through its shared limiter and breaker,
//! whose state the report shows), Redis, each queue and its workers, and store the report the
//! API serves at `GET /v1/health`.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use chrono::Utc;
use coinbeat_shared::{
    Settings,
    breaker::{BreakerState, read_breaker},
    cache::{HealthReport, QueueHealth, RateLimitHealth, RedisHealth, Status, UpstreamHealth},
    jobs::{HealthJob, Queue},
    keys::Keys,
    queue::{JobError, JobResult, QueueRedis, queue_stats},
    ratelimit::{Provider, read_snapshot},
    settings::PriceSource,
};
use futures::future::{BoxFuture, FutureExt, join_all};
use redis::aio::ConnectionManager;

use crate::{
    alchemy::Alchemy, binance::Binance, boot::WorkerEnv, coincap::CoinCapRest,
    coingecko::CoinGecko, coinlore::CoinLore, etherscan::Etherscan,
};

/// Handles `health` jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HealthWorker {
    conn: ConnectionManager,
    /// Each queue's Redis.
    queue_redis: QueueRedis,
    keys: Keys,
    settings: Settings,
    coingecko: CoinGecko,
    binance: Option<Binance>,
    coinlore: CoinLore,
    /// Only with a key: without one there is no Etherscan to probe.
    etherscan: Option<Etherscan>,
    /// Only when the price chain names it and its key is set.
    alchemy: Option<Alchemy>,
    /// Only when the price chain names it and its key is set.
    coincap: Option<CoinCapRest>,
}

impl HealthWorker {
    pub fn new(env: &WorkerEnv) -> anyhow::Result<Self> {
        let providers = &env.settings.providers;
        let binance = providers
            .binance
            .enabled
            .then(|| Binance::new(env))
            .transpose()?;
        let etherscan = match providers.etherscan.key() {
            Some(_) => Some(Etherscan::new(env)?),
            None => None,
        };
        let chained = |source: PriceSource| {
            env.settings.prices.providers.contains(&source)
                && providers.has_key(source.provider())
        };
        let alchemy = chained(PriceSource::Alchemy)
            .then(|| Alchemy::new(env))
            .transpose()?;
        let coincap = chained(PriceSource::CoinCap)
            .then(|| CoinCapRest::new(env))
            .transpose()?;
        Ok(Self {
            conn: env.conn.clone(),
            queue_redis: env.queues.clone(),
            keys: env.keys.clone(),
            settings: env.settings.clone(),
            coingecko: CoinGecko::new(env)?,
            binance,
            coinlore: CoinLore::new(env)?,
            etherscan,
            alchemy,
            coincap,
        })
    }

    pub async fn handle(&self, _job: HealthJob) -> JobResult {
        let coingecko = match self.recent(Provider::CoinGecko).await {
            Some(last) => self.restate(last).boxed(),
            None => self
                .probe(Provider::CoinGecko, self.coingecko.ping())
                .boxed(),
        };
        let mut probes: Vec<BoxFuture<'_, UpstreamHealth>> = vec![
            coingecko,
            self.probe(Provider::CoinLore, self.coinlore.ping()).boxed(),
        ];
        if let Some(binance) = &self.binance {
            probes.push(self.probe(Provider::Binance, binance.ping()).boxed());
        }
        if let Some(etherscan) = &self.etherscan {
            probes.push(self.probe(Provider::Etherscan, etherscan.ping()).boxed());
        }
        if let Some(alchemy) = &self.alchemy {
            probes.push(self.probe(Provider::Alchemy, alchemy.ping()).boxed());
        }
        if let Some(coincap) = &self.coincap {
            probes.push(self.probe(Provider::CoinCap, coincap.ping()).boxed());
        }
        let (upstreams, redis, queues) =
            tokio::join!(join_all(probes), self.redis(), self.queues());
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

    /// The last report's answer of `provider`, when it was asked within
    /// `health.coingecko_probe_secs`, was not down, and no call to it has failed since (its
    /// breaker is closed with no failures counted). CoinGecko only: the other probes cost
    /// nothing that counts.
    async fn recent(&self, provider: Provider) -> Option<UpstreamHealth> {
        let spacing = self.settings.health.coingecko_probe_secs;
        if provider != Provider::CoinGecko || spacing == 0 {
            return None;
        }
        let last = HealthReport::load(&self.conn, &self.keys).await.ok()??;
        let upstream = last
            .upstreams
            .into_iter()
            .find(|u| u.name == provider.as_str())?;
        let age = Utc::now() - upstream.probed_at?;
        // The other workers' calls count too: any failure since, and it is asked now.
        let breaker = read_breaker(&self.conn, &self.keys, provider)
            .await
            .unwrap_or_default();
        let quiet = breaker.state == BreakerState::Closed && breaker.failures == 0;
        (age.num_seconds() < spacing as i64 && upstream.status != Status::Down && quiet)
            .then_some(upstream)
    }

    /// A standing answer with the breaker and limiter as they are now.
    async fn restate(&self, last: UpstreamHealth) -> UpstreamHealth {
        let provider = Provider::CoinGecko;
        let mut now = self
            .judge(provider, last.status, last.latency_ms, last.error)
            .await;
        now.probed_at = last.probed_at;
        now
    }

    /// Times one probe: down on error or timeout (or while the breaker is open), degraded when
    /// slow or held back by the upstream; with the provider's breaker and limiter as Redis
    /// holds them after the probe.
    async fn probe<E: std::fmt::Display>(
        &self,
        provider: Provider,
        call: impl Future<Output = Result<(), E>>,
    ) -> UpstreamHealth {
        let health = &self.settings.health;
        let probed_at = Utc::now();
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
        let mut health = self.judge(provider, status, latency_ms, error).await;
        health.probed_at = Some(probed_at);
        health
    }

    /// A probe's outcome with the provider's breaker and limiter: down while the breaker is
    /// open, degraded while the limiter holds calls back.
    async fn judge(
        &self,
        provider: Provider,
        mut status: Status,
        latency_ms: u64,
        error: Option<String>,
    ) -> UpstreamHealth {
        let breaker = read_breaker(&self.conn, &self.keys, provider)
            .await
            .unwrap_or_default();
        if breaker.state == BreakerState::Open {
            status = Status::Down;
        }
        let providers = &self.settings.providers;
        let rate_limit = read_snapshot(&self.conn, &self.keys, &providers.limiter_id(provider))
            .await
            .ok()
            .map(|snapshot| RateLimitHealth {
                limit: providers
                    .rate_spec(provider)
                    .map_or_else(|e| e.to_string(), |spec| spec.to_string()),
                snapshot,
            });
        if status == Status::Up
            && rate_limit
                .as_ref()
                .is_some_and(|r| r.snapshot.blocked_for().is_some())
        {
            status = Status::Degraded;
        }
        UpstreamHealth {
            name: provider.to_string(),
            status,
            latency_ms,
            error,
            breaker,
            rate_limit,
            probed_at: None,
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
                &self.queue_redis.conn(&name),
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

impl crate::worker::Worker for HealthWorker {
    type Job = HealthJob;
    const NAME: &'static str = "health-worker";
    const ABOUT: &'static str =
        "Runs the `health` queue: checks every upstream and records the report.";
    const PROVIDERS: &'static [coinbeat_shared::ratelimit::Provider] =
        &coinbeat_shared::ratelimit::Provider::ALL;

    async fn build(env: &WorkerEnv) -> anyhow::Result<Self> {
        Self::new(env)
    }

    async fn run(&self, job: HealthJob, _ctx: coinbeat_shared::queue::JobContext) -> JobResult {
        self.handle(job).await
    }
}
