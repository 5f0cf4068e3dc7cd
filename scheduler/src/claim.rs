//! Claiming one tick of one entry: unless the entry is paused, enqueue its payload under the
//! claim `QueueKeys::tick_claim(entry, tick_ms)`, then record the run (and, by
//! the replica that enqueued, add it to the entry's history). Every replica computes the same
//! key from the tick's scheduled time, so exactly one of them enqueues; the others get
//! `Duplicate` and learn which task won.

use std::time::Duration;

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    keys::Keys,
    queue::{EnqueueOptions, Producer, QueueError, TaskId},
    schedule_control::read_pause,
    schedule_history::{RunRecord, RunTrigger, push_run},
};
use redis::aio::ConnectionManager;

use crate::{
    entry::Entry,
    metrics::{SchedulerMetrics, TickOutcome},
    record::{TickRecord, record_next, record_tick},
};

/// How long one claim (enqueue plus record) may take before it counts as failed. Bounds the
/// handlers piling up while Redis is unreachable, and the wait at shutdown.
const CLAIM_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a tick was not claimed. The beat logs it and lets catch-up retry; it is never fatal.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(transparent)]
    Enqueue(QueueError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("no answer from redis within {0:?}")]
    Timeout(Duration),
}

/// What became of a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This replica enqueued the tick's job.
    Enqueued(TaskId),
    /// Another replica (or an earlier attempt) already holds the claim, with this task.
    AlreadyClaimed(TaskId),
    /// The entry is paused: nothing was enqueued or recorded.
    Paused,
}

/// Why a tick is being claimed, for the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// apalis-cron fired it.
    Tick,
    /// The latest scheduled time had not run (first start, downtime, a failed tick).
    CatchUp,
}

impl Trigger {
    pub(crate) fn as_str(self) -> &'static str {
        self.history().as_str()
    }

    /// How the entry's history names it.
    fn history(self) -> RunTrigger {
        match self {
            Trigger::Tick => RunTrigger::Tick,
            Trigger::CatchUp => RunTrigger::CatchUp,
        }
    }
}

/// Enqueues ticks and records them. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Claimer {
    producer: Producer,
    conn: ConnectionManager,
    keys: Keys,
    metrics: SchedulerMetrics,
}

impl Claimer {
    pub fn new(
        producer: Producer,
        conn: ConnectionManager,
        keys: Keys,
        metrics: SchedulerMetrics,
    ) -> Self {
        Self {
            producer,
            conn,
            keys,
            metrics,
        }
    }

    pub fn metrics(&self) -> &SchedulerMetrics {
        &self.metrics
    }

    pub fn conn(&self) -> &ConnectionManager {
        &self.conn
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Enqueues `entry`'s job for the tick scheduled at `tick`, unless the tick is already
    /// claimed, and records the run.
    pub async fn claim(
        &self,
        entry: &Entry,
        tick: DateTime<Utc>,
        trigger: Trigger,
    ) -> Result<Claim, ClaimError> {
        let claim = tokio::time::timeout(CLAIM_TIMEOUT, self.claim_inner(entry, tick, trigger))
            .await
            .unwrap_or(Err(ClaimError::Timeout(CLAIM_TIMEOUT)));
        let outcome = match &claim {
            Ok(Claim::Enqueued(_)) => TickOutcome::Claimed,
            Ok(Claim::AlreadyClaimed(_)) => TickOutcome::Deduplicated,
            Ok(Claim::Paused) => TickOutcome::Paused,
            Err(_) => TickOutcome::Failed,
        };
        self.metrics.tick(entry.name(), trigger, outcome);
        claim
    }

    async fn claim_inner(
        &self,
        entry: &Entry,
        tick: DateTime<Utc>,
        trigger: Trigger,
    ) -> Result<Claim, ClaimError> {
        let tick_ms = tick.timestamp_millis();
        if read_pause(&self.conn, &self.keys, entry.name())
            .await?
            .is_paused()
        {
            tracing::debug!(
                entry = entry.name(), tick = %tick.to_rfc3339(), trigger = trigger.as_str(),
                "paused; tick skipped"
            );
            return Ok(Claim::Paused);
        }
        let opts = EnqueueOptions {
            claim: Some(
                self.keys
                    .queue(&entry.kind().name())
                    .tick_claim(entry.name(), tick_ms),
            ),
            idempotency_ttl: Some(entry.claim_ttl(tick)),
            ..EnqueueOptions::default()
        };
        let (claim, enqueued_ms) = match self
            .producer
            .enqueue_to(&entry.kind().name(), entry.payload(), opts)
            .await
        {
            Ok(id) => {
                let enqueued_at = Utc::now();
                let late = (enqueued_at - tick).num_microseconds().unwrap_or(i64::MAX);
                self.metrics
                    .late(entry.name(), trigger, late as f64 / 1_000_000.0);
                (Claim::Enqueued(id), Some(enqueued_at.timestamp_millis()))
            }
            Err(QueueError::Duplicate { existing, .. }) => (Claim::AlreadyClaimed(existing), None),
            Err(e) => return Err(ClaimError::Enqueue(e)),
        };
        let task_id = match claim {
            Claim::Enqueued(id) | Claim::AlreadyClaimed(id) => id,
            Claim::Paused => unreachable!("returned above"),
        };
        match claim {
            Claim::Enqueued(_) => tracing::info!(
                entry = entry.name(), queue = %entry.kind(), tick = %tick.to_rfc3339(),
                task_id = %task_id, trigger = trigger.as_str(), "enqueued"
            ),
            Claim::AlreadyClaimed(_) => tracing::debug!(
                entry = entry.name(), tick = %tick.to_rfc3339(), task_id = %task_id,
                trigger = trigger.as_str(), "tick already claimed"
            ),
            Claim::Paused => {}
        }
        // Only the replica that enqueued adds the run to the history, so each run is there once.
        if let (Claim::Enqueued(_), Some(enqueued_ms)) = (claim, enqueued_ms) {
            let run = RunRecord {
                tick_ms,
                task_id,
                trigger: trigger.history(),
                enqueued_ms,
            };
            if let Err(e) = push_run(&self.conn, &self.keys, entry.name(), &run).await {
                tracing::warn!(entry = entry.name(), error = %e, "could not add the run to the history");
            }
        }
        let record = TickRecord {
            tick_ms,
            task_id,
            enqueued_ms,
            next_tick_ms: entry.next_after(tick).map(|t| t.timestamp_millis()),
        };
        // The claim key, not the record, is what prevents a second enqueue; a record that
        // could not be written only makes a later catch-up try (and be refused) again.
        if let Err(e) = record_tick(&self.conn, &self.keys, entry.name(), &record).await {
            tracing::warn!(entry = entry.name(), error = %e, "could not record the run");
        }
        Ok(claim)
    }

    /// Publishes the entry's next scheduled time after `now`.
    pub async fn publish_next(
        &self,
        entry: &Entry,
        now: DateTime<Utc>,
    ) -> Result<(), redis::RedisError> {
        let next = entry.next_after(now).map(|t| t.timestamp_millis());
        record_next(&self.conn, &self.keys, entry.name(), next).await
    }
}
