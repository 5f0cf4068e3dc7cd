//! Gauges read from Redis at scrape time: queue depth and age, and each provider's limiter
//! counters and breaker state, which every process already keeps in Redis.
//!
//! Every read is bounded by the process's Redis timeout and the reads run concurrently, so a
//! scrape during an outage takes at most one timeout and still answers: with the families that
//! could be read, and `coinbeat_redis_up 0`.
//!
//! A reading is reused for [`READING_TTL`]: the scrape path is reachable from outside (the
//! API's `/metrics`), and one reading is dozens of Redis commands, so scrapes in a burst, or
//! from several scrapers, cost Redis one reading per interval however many there are.
//! Concurrent scrapes wait for the one reading in progress rather than start their own.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use futures::future::join_all;
use redis::aio::ConnectionManager;

use super::text::{Kind, TextWriter};
use crate::{
    breaker::{BreakerSnapshot, BreakerState, read_breaker},
    jobs::QueueName,
    keys::Keys,
    queue::{QueueRedis, QueueStats, queue_stats},
    ratelimit::{LimiterId, LimiterSnapshot, Provider, read_snapshot},
    settings::QueueSettings,
};

/// How long one reading of Redis serves scrapes.
pub const READING_TTL: Duration = Duration::from_secs(2);

/// What one process reports from Redis: the queues and providers it cares about.
#[derive(Debug, Clone)]
pub struct RedisGauges {
    conn: ConnectionManager,
    /// Where the queues live (by default all on `conn`).
    queue_redis: QueueRedis,
    keys: Keys,
    queues: Vec<(QueueName, QueueSettings)>,
    providers: Vec<(Provider, LimiterId)>,
    timeout: Duration,
    /// The last reading, shared by every clone.
    last: Arc<tokio::sync::Mutex<Option<Taken>>>,
}

/// A reading and when it was taken.
type Taken = (Instant, Arc<Reading>);

/// One reading of everything the gauges report.
#[derive(Debug)]
struct Reading {
    up: bool,
    queues: Vec<QueueStats>,
    limiters: Vec<(Provider, LimiterSnapshot)>,
    breakers: Vec<(Provider, BreakerSnapshot)>,
}

/// The breaker's state as a number: 0 closed, 1 half-open (open, and the next request goes
/// through as the probe), 2 open (no request until the next probe time).
pub fn breaker_state_value(b: &BreakerSnapshot, now: chrono::DateTime<Utc>) -> f64 {
    match b.state {
        BreakerState::Closed => 0.0,
        BreakerState::Open if b.next_probe_at.is_none_or(|at| at <= now) => 1.0,
        BreakerState::Open => 2.0,
    }
}

impl RedisGauges {
    /// Reports nothing but `coinbeat_redis_up` until queues and providers are added.
    pub fn new(conn: ConnectionManager, keys: Keys, timeout: Duration) -> Self {
        Self {
            queue_redis: QueueRedis::new(conn.clone()),
            conn,
            keys,
            queues: Vec::new(),
            providers: Vec::new(),
            timeout,
            last: Arc::default(),
        }
    }

    /// Reads the queues from `redis` (queues with a Redis of their own) rather than `conn`.
    pub fn queues_on(mut self, redis: QueueRedis) -> Self {
        self.queue_redis = redis;
        self
    }

    /// Also reports this queue's depth and oldest waiting age.
    pub fn queue(mut self, queue: QueueName, settings: QueueSettings) -> Self {
        self.queues.push((queue, settings));
        self
    }

    /// Also reports this provider's limiter (`limiter`, as the workers build it from the
    /// settings) and breaker.
    pub fn provider(mut self, provider: Provider, limiter: LimiterId) -> Self {
        self.providers.push((provider, limiter));
        self
    }

    /// Writes the latest reading, taking a new one (one timeout at most) when the last is older
    /// than [`READING_TTL`].
    pub async fn render_into(&self, w: &mut TextWriter) {
        let reading = {
            let mut last = self.last.lock().await;
            match &*last {
                Some((at, reading)) if at.elapsed() < READING_TTL => reading.clone(),
                _ => {
                    let reading = Arc::new(self.read().await);
                    *last = Some((Instant::now(), reading.clone()));
                    reading
                }
            }
        };
        w.family(
            "coinbeat_redis_up",
            "Whether Redis answered PING within the Redis timeout during this scrape.",
            Kind::Gauge,
        );
        w.sample("coinbeat_redis_up", &[], if reading.up { 1.0 } else { 0.0 });
        write_queues(w, &reading.queues);
        write_limiters(w, &reading.limiters);
        write_breakers(w, &reading.breakers);
    }

    /// Reads everything, one timeout at most.
    async fn read(&self) -> Reading {
        let t = self.timeout;
        let ping = async {
            let mut conn = self.conn.clone();
            let r =
                tokio::time::timeout(t, redis::cmd("PING").query_async::<String>(&mut conn)).await;
            matches!(r, Ok(Ok(_)))
        };
        let queues = join_all(self.queues.iter().map(|(q, s)| async move {
            let conn = self.queue_redis.conn(q);
            let r = tokio::time::timeout(t, queue_stats(&conn, &self.keys, q, s)).await;
            r.ok().and_then(Result::ok)
        }));
        let limiters = join_all(self.providers.iter().map(|(p, id)| async move {
            let r = tokio::time::timeout(t, read_snapshot(&self.conn, &self.keys, id)).await;
            (*p, r.ok().and_then(Result::ok))
        }));
        let breakers = join_all(self.providers.iter().map(|(p, _)| async move {
            let r = tokio::time::timeout(t, read_breaker(&self.conn, &self.keys, *p)).await;
            (*p, r.ok().and_then(Result::ok))
        }));
        let (up, queues, limiters, breakers) = tokio::join!(ping, queues, limiters, breakers);
        Reading {
            up,
            queues: queues.into_iter().flatten().collect(),
            limiters: limiters
                .into_iter()
                .filter_map(|(p, s)| s.map(|s| (p, s)))
                .collect(),
            breakers: breakers
                .into_iter()
                .filter_map(|(p, s)| s.map(|s| (p, s)))
                .collect(),
        }
    }
}

fn write_queues(w: &mut TextWriter, queues: &[QueueStats]) {
    if queues.is_empty() {
        return;
    }
    w.family(
        "coinbeat_queue_tasks",
        "Tasks of a queue by state: waiting (ready now), delayed (retries and delayed tasks, due \
         or not), in_flight (held by a worker), dead.",
        Kind::Gauge,
    );
    for s in queues {
        let q = s.queue.as_str();
        for (state, n) in [
            ("waiting", s.waiting),
            ("delayed", s.scheduled_due + s.scheduled_future),
            ("in_flight", s.in_flight),
            ("dead", s.dead),
        ] {
            w.sample(
                "coinbeat_queue_tasks",
                &[("queue", q), ("state", state)],
                n as f64,
            );
        }
    }
    w.family(
        "coinbeat_queue_oldest_waiting_seconds",
        "Age of the oldest task that could run now; 0 when none waits.",
        Kind::Gauge,
    );
    for s in queues {
        let age = s.oldest_waiting_ms.unwrap_or(0) as f64 / 1000.0;
        w.sample(
            "coinbeat_queue_oldest_waiting_seconds",
            &[("queue", s.queue.as_str())],
            age,
        );
    }
    w.family(
        "coinbeat_queue_live_workers",
        "Workers of a queue that sent a heartbeat within the orphan window.",
        Kind::Gauge,
    );
    for s in queues {
        w.sample(
            "coinbeat_queue_live_workers",
            &[("queue", s.queue.as_str())],
            s.live_workers as f64,
        );
    }
}

fn write_limiters(w: &mut TextWriter, limiters: &[(Provider, LimiterSnapshot)]) {
    if limiters.is_empty() {
        return;
    }
    type Field = fn(&LimiterSnapshot) -> f64;
    let families: [(&str, &str, Field); 6] = [
        (
            "coinbeat_limiter_acquisitions_total",
            "Permit acquisitions granted by a provider's limiter, every process together.",
            |s| s.metrics.acquired as f64,
        ),
        (
            "coinbeat_limiter_permits_total",
            "Permits granted (the sum of the granted acquisitions' costs, e.g. Binance weight).",
            |s| s.metrics.permits as f64,
        ),
        (
            "coinbeat_limiter_waits_total",
            "Granted acquisitions that had to wait for their permit.",
            |s| s.metrics.waited as f64,
        ),
        (
            "coinbeat_limiter_wait_seconds_total",
            "Time those acquisitions waited, in total.",
            |s| s.metrics.wait_ms as f64 / 1000.0,
        ),
        (
            "coinbeat_limiter_denials_total",
            "Acquisitions refused because no permit came within the longest permit wait.",
            |s| s.metrics.denied as f64,
        ),
        (
            "coinbeat_limiter_push_backs_total",
            "Push-backs from the upstream (429, 418, \"Max rate limit reached\").",
            |s| s.metrics.push_backs as f64,
        ),
    ];
    for (name, help, value) in families {
        w.family(name, help, Kind::Counter);
        for (p, s) in limiters {
            w.sample(name, &[("provider", p.as_str())], value(s));
        }
    }
    w.family(
        "coinbeat_limiter_blocked_seconds",
        "How much longer every acquisition waits because the upstream pushed back; 0 when not \
         blocked.",
        Kind::Gauge,
    );
    for (p, s) in limiters {
        let left = s.blocked_for().map_or(0.0, |d| d.as_secs_f64());
        w.sample(
            "coinbeat_limiter_blocked_seconds",
            &[("provider", p.as_str())],
            left,
        );
    }
}

fn write_breakers(w: &mut TextWriter, breakers: &[(Provider, BreakerSnapshot)]) {
    if breakers.is_empty() {
        return;
    }
    let now = Utc::now();
    w.family(
        "coinbeat_breaker_state",
        "A provider's circuit breaker: 0 closed, 1 half-open (the next request is the probe), \
         2 open.",
        Kind::Gauge,
    );
    for (p, b) in breakers {
        w.sample(
            "coinbeat_breaker_state",
            &[("provider", p.as_str())],
            breaker_state_value(b, now),
        );
    }
    w.family(
        "coinbeat_breaker_transitions_total",
        "Times a provider's breaker opened or closed, every process together.",
        Kind::Counter,
    );
    for (p, b) in breakers {
        for (to, n) in [("open", b.opens), ("closed", b.closes)] {
            w.sample(
                "coinbeat_breaker_transitions_total",
                &[("provider", p.as_str()), ("to", to)],
                n as f64,
            );
        }
    }
    w.family(
        "coinbeat_breaker_consecutive_failures",
        "Consecutive failures a provider's breaker has counted.",
        Kind::Gauge,
    );
    for (p, b) in breakers {
        w.sample(
            "coinbeat_breaker_consecutive_failures",
            &[("provider", p.as_str())],
            b.failures as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_breaker_whose_probe_is_due_is_half_open_and_one_waiting_for_it_is_open() {
        let now = Utc::now();
        let closed = BreakerSnapshot::default();
        let mut open = BreakerSnapshot {
            state: BreakerState::Open,
            next_probe_at: Some(now + chrono::Duration::seconds(5)),
            ..BreakerSnapshot::default()
        };
        assert_eq!(breaker_state_value(&closed, now), 0.0);
        assert_eq!(breaker_state_value(&open, now), 2.0);
        open.next_probe_at = Some(now - chrono::Duration::milliseconds(1));
        assert_eq!(breaker_state_value(&open, now), 1.0);
    }
}
