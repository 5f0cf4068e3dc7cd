//! The latest health report: what the health worker found about the upstreams, Redis, the
//! queues and their workers. Written whole by the worker, read whole by the API.

use chrono::{DateTime, Utc};
use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Deserialize, Serialize};

use super::CacheError;
use crate::{breaker::BreakerSnapshot, keys::Keys, ratelimit::LimiterSnapshot};

/// Up, degraded (answers, but slowly or throttled), or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    Up,
    Degraded,
    Down,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthReport {
    /// The worst of the parts below.
    pub status: Status,
    pub checked_at: DateTime<Utc>,
    pub upstreams: Vec<UpstreamHealth>,
    pub redis: RedisHealth,
    pub queues: Vec<QueueHealth>,
}

/// One upstream API, probed with a cheap request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpstreamHealth {
    pub name: String,
    pub status: Status,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// The provider's circuit breaker, shared by every replica.
    #[serde(default)]
    pub breaker: BreakerSnapshot,
    /// The provider's shared rate limiter: its configured limit, counters and push-back.
    #[serde(default)]
    pub rate_limit: Option<RateLimitHealth>,
    /// When the upstream was last asked: older than the report when its probe is spaced out
    /// (`health.coingecko_probe_secs`) and the last answer stands.
    #[serde(default)]
    pub probed_at: Option<DateTime<Utc>>,
}

/// One provider's rate limiter as the health worker read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitHealth {
    /// The configured limit, e.g. `3/s, 100000/day` (`off` for none).
    pub limit: String,
    #[serde(flatten)]
    pub snapshot: LimiterSnapshot,
}

/// Redis as the worker saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedisHealth {
    pub status: Status,
    /// PING round trip, microseconds.
    pub latency_us: u64,
    pub used_memory_bytes: Option<u64>,
}

/// One queue: backlog, age of its oldest waiting task, dead tasks, live workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueHealth {
    pub queue: String,
    pub status: Status,
    pub waiting: u64,
    pub oldest_waiting_ms: Option<u64>,
    pub dead: u64,
    pub live_workers: u64,
}

impl HealthReport {
    /// The worst status of its parts.
    pub fn overall(
        upstreams: &[UpstreamHealth],
        redis: &RedisHealth,
        queues: &[QueueHealth],
    ) -> Status {
        let parts = upstreams
            .iter()
            .map(|u| u.status)
            .chain(queues.iter().map(|q| q.status))
            .chain([redis.status]);
        match parts.max() {
            Some(Status::Up) | None => Status::Up,
            // One upstream down degrades the system (the cache still serves); Redis down is down.
            Some(_) if redis.status == Status::Down => Status::Down,
            Some(_) => Status::Degraded,
        }
    }

    /// Stores the report; it expires after `ttl_secs` so a report nobody refreshes disappears.
    pub async fn store(
        &self,
        conn: &ConnectionManager,
        keys: &Keys,
        ttl_secs: u64,
    ) -> Result<(), CacheError> {
        let json = serde_json::to_string(self).expect("reports serialize");
        let _: () = conn
            .clone()
            .set_ex(keys.health_report(), json, ttl_secs.max(1))
            .await?;
        Ok(())
    }

    /// The latest report, if there is one.
    pub async fn load(conn: &ConnectionManager, keys: &Keys) -> Result<Option<Self>, CacheError> {
        let raw: Option<String> = conn.clone().get(keys.health_report()).await?;
        raw.map(|json| {
            serde_json::from_str(&json).map_err(|source| CacheError::Corrupt {
                key: keys.health_report(),
                source,
            })
        })
        .transpose()
    }
}
