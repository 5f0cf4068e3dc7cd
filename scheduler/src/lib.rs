//! `coinbeat-scheduler`, the beat: turns the schedule table into jobs. It only enqueues; it
//! never runs a job or calls an upstream.
//!
//! - [`entry`]: a schedule entry parsed and checked at start-up (cron in UTC, checked payload).
//! - `beat`: one apalis-cron worker per entry, supervised, whose handler claims each tick.
//! - `claim`: enqueue a tick's job under the idempotency key `(entry, tick time)`, so exactly
//!   one job per tick however many replicas run (apalis-cron alone would enqueue one per
//!   replica: apalis-redis defect 9).
//! - `catch_up`: after downtime the latest missed tick runs once; on the very first start the
//!   entry runs at once.
//! - `record`: the run record of each entry in Redis (read with
//!   `coinbeat_shared::schedule_state::read_schedule_record`).
//! - [`error`]: why the scheduler refused to start.
//! - [`metrics`]: [`SchedulerMetrics`], ticks by outcome, lateness, catch-up runs, served with
//!   `/healthz` and `/readyz` by the ops server (`coinbeat-ops`, on `ops.addr`).
//!
//! [`run`] is the whole scheduler; the `coinbeat-scheduler` binary and `coinbeat run scheduler`
//! both call it. [`run_on`] takes the ops listener (tests bind port 0); [`run_with`] is the beat
//! alone, recording into metrics the caller serves.

mod beat;
pub mod boot;
mod catch_up;
mod claim;
pub mod entry;
pub mod error;
pub mod metrics;
mod record;
mod watch;

use std::sync::Arc;

use coinbeat_ops::Ops;
use coinbeat_shared::{
    Settings,
    keys::Keys,
    metrics::{RedisGauges, Registry},
    plan,
    queue::{Producer, QueueRedis},
    redis_conn::{self, ConnectError},
    settings::OverLimits,
    settings::RedisSettings,
};
use redis::aio::ConnectionManager;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

pub use entry::{Entry, parse_schedule};
pub use error::{EntryError, EntryProblem, SchedulerError};
pub use metrics::SchedulerMetrics;

/// Runs the beat for every enabled entry of `settings.schedule` until `shutdown` is cancelled.
///
/// Fails at start on an invalid entry (every one is named), a malformed Redis URL, or a Redis
/// that evicts keys (`maxmemory-policy`; checked once Redis first answers, so also a little
/// later when it was down at start). Otherwise it never fails: a Redis error is logged, the
/// tick is caught up once Redis answers again, and an unreachable Redis at start is waited for
/// in the same way.
///
/// Alongside, the ops server on `ops.addr` (unless disabled) until `shutdown`.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> Result<(), SchedulerError> {
    parse_schedule(&settings)?;
    check_plan(&settings)?;
    let ops = coinbeat_ops::bind(&settings.ops).await?;
    run_on(settings, ops, shutdown).await
}

/// Refuses a table that needs more calls than the providers' limits allow (unless
/// `plan.over_limits = "warn"`, which only logs it); logs the tier entries the settings'
/// `"stretch"` lengthened.
pub fn check_plan(settings: &Settings) -> Result<(), SchedulerError> {
    for entry in settings.schedule.values() {
        if let Some(tier) = entry.tier.as_ref().filter(|t| t.stretched) {
            tracing::warn!(
                tier = %tier.tier,
                configured_every_secs = tier.configured_every_secs,
                every_secs = tier.every_secs,
                "price tier stretched to fit the providers' limits"
            );
        }
    }
    let entries = plan::PlanEntry::of_table(&settings.schedule);
    let plan = plan::plan(settings, &entries, chrono::Utc::now());
    let over: Vec<String> = plan
        .over()
        .map(|w| match w.longest_wait_ms {
            Some(ms) if w.needed <= w.limit => format!(
                "{} {}: calls would wait up to {} s for a permit (at most {} s)",
                w.provider,
                w.window,
                ms / 1_000,
                settings.upstream.max_permit_wait_ms / 1_000
            ),
            _ => format!(
                "{} {} needs {} calls against a limit of {}",
                w.provider, w.window, w.needed, w.limit
            ),
        })
        .collect();
    if over.is_empty() {
        return Ok(());
    }
    if settings.plan.over_limits == OverLimits::Warn {
        tracing::warn!(
            ?over,
            "the schedule does not fit the providers' rate limits"
        );
        return Ok(());
    }
    Err(SchedulerError::OverLimits { over })
}

/// [`run`] with the ops server on `ops` when given.
pub async fn run_on(
    settings: Settings,
    ops: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), SchedulerError> {
    let registry = Registry::new();
    let metrics = SchedulerMetrics::new(&registry);
    let conn = redis_conn::connect_lazy(&settings.redis)?;
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let timeout = settings.ops.redis_timeout();
    let gauges = RedisGauges::new(conn.clone(), keys, timeout);
    let running = metrics.clone();
    let ops_state = Ops::new(registry, gauges, conn, timeout, move || {
        running.is_running()
    });
    let work = run_with(settings, metrics, shutdown.clone());
    coinbeat_ops::beside(ops, ops_state, &shutdown, work).await
}

/// The beat alone, recording into `metrics`, until `shutdown` is cancelled.
pub async fn run_with(
    settings: Settings,
    metrics: SchedulerMetrics,
    shutdown: CancellationToken,
) -> Result<(), SchedulerError> {
    let entries = parse_schedule(&settings)?;
    let (conn, checked) = connect(&settings.redis).await?;
    let queues = connect_queues(&settings, &conn).await?;
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let producer = Producer::new(queues, keys.clone(), settings.queues.clone());
    for entry in &entries {
        metrics.register_entry(entry.name());
    }
    let claimer = claim::Claimer::new(producer, conn.clone(), keys.clone(), metrics.clone());
    log_table(&settings, &entries);
    let static_names = entries.iter().map(|e| e.name().to_owned()).collect();

    metrics.set_running(true);
    // Not running once this returns, however it returns.
    let _stopped = StopGuard(metrics.clone());
    if entries.is_empty() {
        tracing::warn!("no enabled schedule entries; only wallets added in redis will run");
    }
    // Stopped by `shutdown`, or by a Redis found to evict keys once it first answers.
    let beating = shutdown.child_token();
    let refused = Arc::new(std::sync::Mutex::new(None));
    if !checked {
        let (conn, redis) = (conn.clone(), settings.redis.clone());
        let (beating, refused) = (beating.clone(), refused.clone());
        tokio::spawn(async move {
            tokio::select! {
                verdict = redis_conn::watch_eviction_policy(conn, redis) => {
                    if let Err(e) = verdict {
                        tracing::error!(error = %e, "refusing this redis; stopping");
                        *refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        beating.cancel();
                    }
                }
                () = beating.cancelled() => {}
            }
        });
    }
    let mut beats = JoinSet::new();
    beats.spawn(watch::run(
        Arc::new(settings.clone()),
        claimer.clone(),
        conn,
        keys,
        metrics.clone(),
        static_names,
        beating.clone(),
    ));
    for entry in entries {
        beats.spawn(beat::run_entry(
            Arc::new(entry),
            claimer.clone(),
            beating.clone(),
        ));
    }
    while let Some(done) = beats.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "a beat task failed");
        }
    }
    beating.cancel();
    tracing::info!("scheduler stopped");
    match refused.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Clears the running gauge when the beat returns.
struct StopGuard(SchedulerMetrics);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.set_running(false);
    }
}

/// Connects to Redis; if it does not answer yet, returns a connection that keeps trying, so a
/// scheduler started before its Redis still beats (and catches up) once Redis is there. The
/// flag says whether Redis's eviction policy was checked (it is, when Redis answered).
async fn connect(redis: &RedisSettings) -> Result<(ConnectionManager, bool), ConnectError> {
    match redis_conn::connect(redis).await {
        Ok(conn) => Ok((conn, true)),
        Err(ConnectError::Connect(e)) => {
            tracing::warn!(error = %e, "redis unavailable at start; beating anyway, catching up once it answers");
            Ok((redis_conn::connect_lazy(redis)?, false))
        }
        Err(e) => Err(e),
    }
}

/// Every queue's connection, as [`connect`] does it: a queue's own Redis that does not answer
/// yet gets a connection that keeps trying.
async fn connect_queues(
    settings: &Settings,
    conn: &ConnectionManager,
) -> Result<QueueRedis, ConnectError> {
    match redis_conn::connect_queues(settings, conn.clone()).await {
        Ok(queues) => Ok(queues),
        Err(ConnectError::Connect(e)) => {
            tracing::warn!(error = %e, "a queue's redis is unavailable at start; beating anyway");
            redis_conn::connect_queues_lazy(settings, conn.clone())
        }
        Err(e) => Err(e),
    }
}

fn log_table(settings: &Settings, entries: &[Entry]) {
    let now = chrono::Utc::now();
    for entry in entries {
        let next = entry.next_after(now).map(|t| t.to_rfc3339());
        tracing::info!(
            entry = entry.name(),
            cron = entry.cron(),
            kind = %entry.kind(),
            args = %entry.payload(),
            next_run = next.as_deref().unwrap_or("never"),
            "schedule entry"
        );
    }
    for (name, _) in settings.schedule.iter().filter(|(_, s)| !s.enabled) {
        tracing::info!(entry = name.as_str(), "schedule entry disabled");
    }
}
