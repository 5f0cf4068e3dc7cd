//! A circuit breaker per upstream provider, its state in Redis so every replica of every worker
//! trips and recovers together.
//!
//! Closed: requests go. After `breaker_failures` consecutive failures (network errors,
//! timeouts, 5xx; never a 4xx or a throttle, which say nothing about the upstream being down)
//! it opens: no request goes, except one probe per `breaker_probe_ms` across all replicas. A
//! success (a probe's, or any request's) closes it. Both steps are one Lua script each, on
//! Redis's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::{keys::Keys, ratelimit::Provider, settings::UpstreamSettings};

mod scripts {
    use std::sync::LazyLock;

    use redis::Script;

    pub(super) static ADMIT: LazyLock<Script> =
        LazyLock::new(|| Script::new(include_str!("lua/admit.lua")));
    pub(super) static RECORD: LazyLock<Script> =
        LazyLock::new(|| Script::new(include_str!("lua/record.lua")));
}

/// May a request go now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The breaker is closed.
    Go,
    /// The breaker is open and this request is the one probe of the interval.
    Probe,
    /// The breaker is open; the next probe may go in this long.
    Open { next_probe_in: Duration },
}

/// A change of state caused by one outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened,
    Closed,
}

/// Closed: requests go. Open: one probe per interval goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BreakerState {
    #[default]
    Closed,
    Open,
}

/// A breaker's state as Redis holds it, for the health report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BreakerSnapshot {
    pub state: BreakerState,
    /// Consecutive failures so far.
    pub failures: u64,
    pub opened_at: Option<DateTime<Utc>>,
    /// While open: when the next probe may go.
    pub next_probe_at: Option<DateTime<Utc>>,
    /// Times it opened and closed since the deployment's Redis began.
    pub opens: u64,
    pub closes: u64,
}

/// One provider's breaker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Breaker {
    conn: ConnectionManager,
    key: String,
    failures_to_open: u32,
    probe_interval: Duration,
}

impl Breaker {
    pub fn new(
        conn: ConnectionManager,
        keys: &Keys,
        provider: Provider,
        settings: &UpstreamSettings,
    ) -> Self {
        Self {
            conn,
            key: keys.breaker(provider),
            failures_to_open: settings.breaker_failures.max(1),
            probe_interval: settings.breaker_probe_interval(),
        }
    }

    /// Asks whether a request may go; an open breaker lets one probe through per interval.
    pub async fn admit(&self) -> Result<Admission, redis::RedisError> {
        let (verdict, wait_ms): (i64, i64) = scripts::ADMIT
            .key(&self.key)
            .arg(self.probe_interval.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match verdict {
            1 => Admission::Go,
            2 => Admission::Probe,
            _ => Admission::Open {
                next_probe_in: Duration::from_millis(wait_ms.max(0) as u64),
            },
        })
    }

    /// Records a request's outcome: `true` when the upstream answered as an upstream that is up
    /// does (any answer but a 5xx), `false` for a network error, a timeout or a 5xx.
    pub async fn record(&self, up: bool) -> Result<Option<Transition>, redis::RedisError> {
        let changed: String = scripts::RECORD
            .key(&self.key)
            .arg(if up { "success" } else { "failure" })
            .arg(self.failures_to_open)
            .arg(self.probe_interval.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match changed.as_str() {
            "opened" => Some(Transition::Opened),
            "closed" => Some(Transition::Closed),
            _ => None,
        })
    }
}

/// Reads `provider`'s breaker; a breaker never written is closed with no failures.
pub async fn read_breaker(
    conn: &ConnectionManager,
    keys: &Keys,
    provider: Provider,
) -> Result<BreakerSnapshot, redis::RedisError> {
    let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(keys.breaker(provider))
        .query_async(&mut conn.clone())
        .await?;
    let number = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
    let at = |name: &str| number(name).and_then(DateTime::from_timestamp_millis);
    let open = fields.get("state").is_some_and(|s| s == "open");
    Ok(BreakerSnapshot {
        state: if open {
            BreakerState::Open
        } else {
            BreakerState::Closed
        },
        failures: number("failures").unwrap_or(0).max(0) as u64,
        opened_at: if open { at("opened_at_ms") } else { None },
        next_probe_at: if open { at("probe_at_ms") } else { None },
        opens: number("opens").unwrap_or(0).max(0) as u64,
        closes: number("closes").unwrap_or(0).max(0) as u64,
    })
}
