//! The worker runtime: one apalis worker per process, kept alive by a supervisor.
//!
//! What it adds to apalis-redis 1.0 (see ARCHITECTURE.md for the defect list):
//! - a unique worker name per incarnation (queue, host, pid, random suffix), so restarts and
//!   replicas never collide (defect 4);
//! - explicit heartbeat and orphan window from settings instead of 30 s × 10 (defect 3);
//! - a supervisor that replaces the worker after a Redis error, with backoff and a fresh name,
//!   handing back what the failed incarnation held (defect 5);
//! - its own ack script with permanent/transient classification and bounded, exponential,
//!   jittered retries (defect 6), so apalis's `handle_results.lua` never runs; acks are
//!   batched: one `ack.lua` call records every outcome that finished while the previous call
//!   was in flight (up to 256), and each handler waits for its own task's answer;
//! - wake-on-enqueue and bounded promotion of delayed tasks ([`super::wake`]);
//! - retention of finished records as it goes: each ack and each promoter tick prune a bounded
//!   number past `finished_retention_secs`, oldest first whatever their age while Redis is
//!   above `memory_high_water` ([`super::prune`]);
//! - graceful stop: finish what is running within the timeout, then release the rest.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    time::{Duration, Instant},
};

use apalis::prelude::{
    PollWith, StreamStrategy, TaskId as ApalisTaskId, WorkerBuilder, WorkerBuilderExt,
    WorkerContext,
};
use apalis_redis::Config as ApalisConfig;
use futures::FutureExt;
use rand::Rng;
use redis::Client;

use super::conn::QueueConn;
use crate::supervise::{Backoff, Restarts, supervise};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    JobError, JobResult, Outcome, RuntimeMetrics, TaskId,
    backend::QueueBackend,
    memory::MemoryWatch,
    prune::{ACK_STEP, ACK_STEP_PRESSED, Retention},
    scripts,
    stoppable::Running,
    store::{MAX_FETCH_BATCH, QueueStore},
    wake::Wake,
    workers::register_info,
};
use crate::{
    jobs::{Job, QueueName},
    keys::{Keys, QueueKeys},
    settings::QueueSettings,
};

/// What a handler learns about the task it runs.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub task_id: TaskId,
    pub queue: QueueName,
    /// The worker incarnation running it.
    pub worker: String,
}

/// Why the runtime could not run at all (Redis errors while running are survived, not returned).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("invalid queue settings: {0}")]
    Settings(String),
}

/// A unique worker name: `{queue}-{host}-{pid}-{random}`. apalis refuses a name that
/// re-registers within its threshold and mixes up two live replicas with one name, so every
/// process start and every supervisor restart takes a new one.
pub fn worker_name(queue: &QueueName) -> String {
    replica_name(queue.as_str())
}

/// A unique name for one process of `role`: `{role}-{host}-{pid}-{random}`.
pub fn replica_name(role: &str) -> String {
    let suffix: u32 = rand::rng().random_range(0..=0xFF_FFFF);
    format!("{role}-{}-{}-{suffix:06x}", host(), std::process::id())
}

/// This machine's host name as worker names and info records carry it.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().replace([':', ' '], "-"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// Runs the jobs of one queue until shutdown.
#[derive(Debug, Clone)]
pub struct WorkerRuntime {
    client: Client,
    conn: QueueConn,
    keys: Keys,
    settings: QueueSettings,
    metrics: RuntimeMetrics,
}

impl WorkerRuntime {
    /// `client` opens the Pub/Sub connection; `conn` (the queue's Redis or Redis Cluster)
    /// carries everything else.
    pub fn new(
        client: Client,
        conn: impl Into<QueueConn>,
        keys: Keys,
        settings: QueueSettings,
    ) -> Self {
        Self {
            client,
            conn: conn.into(),
            keys,
            settings,
            metrics: RuntimeMetrics::default(),
        }
    }

    /// Records into `metrics` (by default into a registry nobody renders).
    pub fn with_metrics(mut self, metrics: RuntimeMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Runs `handler` for every job of `J`'s queue until `shutdown` is cancelled, then stops
    /// gracefully. Returns only at shutdown.
    pub async fn run<J, H, Fut>(
        self,
        handler: H,
        shutdown: CancellationToken,
    ) -> Result<(), RuntimeError>
    where
        J: Job,
        H: Fn(J, JobContext) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        let s = &self.settings;
        if s.concurrency == 0 || s.fetch_batch == 0 || s.fetch_batch > MAX_FETCH_BATCH {
            return Err(RuntimeError::Settings(format!(
                "concurrency must be at least 1 and fetch_batch 1 to {MAX_FETCH_BATCH}"
            )));
        }
        let queue = J::queue();
        self.metrics.register_queue(&queue);
        let qkeys = self.keys.queue(&queue);
        let wake = Wake::default();
        let retention = Retention {
            memory: MemoryWatch::new(self.conn.clone()),
            at: qkeys.active(),
            keep: s.finished_retention(),
            high_water: s.memory_high_water,
        };
        let background = shutdown.child_token();
        let listener = tokio::spawn(wake.clone().listen(
            self.client.clone(),
            qkeys.clone(),
            background.clone(),
        ));
        let promoter = tokio::spawn(wake.clone().promote(
            self.conn.clone(),
            qkeys.clone(),
            s.poll_interval(),
            retention.clone(),
            background.clone(),
        ));

        let what = format!("worker of {queue}");
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let this = &self;
        supervise(&what, backoff, Restarts::Warn, &shutdown, || {
            let (queue, qkeys, wake, retention) = (&queue, &qkeys, &wake, &retention);
            let (handler, shutdown) = (handler.clone(), &shutdown);
            async move {
                // A fresh name per incarnation (see `worker_name`).
                let name = worker_name(queue);
                tracing::info!(queue = %queue, worker = %name, "worker starting");
                this.metrics.set_running(queue, true);
                let result = this
                    .incarnation(&name, (queue, qkeys), (wake, retention), handler, shutdown)
                    .await;
                this.metrics.set_running(queue, false);
                this.release(qkeys, &name).await;
                if !shutdown.is_cancelled() {
                    this.metrics.restarted(queue);
                }
                result.map_err(|e| format!("{name}: {e}"))
            }
        })
        .await;
        background.cancel();
        let _ = tokio::join!(listener, promoter);
        tracing::info!(queue = %queue, "worker stopped");
        Ok(())
    }

    /// One apalis worker under one name, until it fails or shutdown completes.
    async fn incarnation<J, H, Fut>(
        &self,
        name: &str,
        (queue, qkeys): (&QueueName, &QueueKeys),
        (wake, retention): (&Wake, &Retention),
        handler: H,
        shutdown: &CancellationToken,
    ) -> Result<(), apalis::prelude::WorkerError>
    where
        J: Job,
        H: Fn(J, JobContext) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        let s = &self.settings;
        let heartbeat = s.heartbeat();
        let missed = s
            .orphan_after()
            .as_secs()
            .div_ceil(heartbeat.as_secs())
            .max(1) as usize;
        let config = ApalisConfig::default()
            .queue(qkeys.namespace())
            .heartbeat_interval(heartbeat)
            .missed_heartbeats(missed)
            .batch_size(s.fetch_batch)
            // Leases LREM the active list once per task (O(backlog) each); our inflight sets
            // and acks already say who holds what.
            .lock_tasks(false)
            // We ack ourselves (ack.lua); apalis's handle_results.lua must never run.
            .persist_results(false)
            .emit_events(false);
        let store = QueueStore::new(self.conn.clone(), qkeys.clone(), config, s.orphan_after());
        let backend = PollWith::new(
            QueueBackend::new(store),
            StreamStrategy::new(wake.stream(s.poll_interval())),
        );

        // Cancelled when an ack could not be recorded even after retrying: this incarnation
        // ends, so release (or, with Redis away, orphan recovery) hands its tasks back rather
        // than a live process keeping tasks it will never ack.
        let ack_failed = CancellationToken::new();
        // Outcomes go to one acker per incarnation, which records them many per call; it
        // stops when the last handle (the worker's, and each running task's) is gone.
        let (outcomes, received) = mpsc::unbounded_channel();
        let batcher = AckBatcher {
            failed: ack_failed.clone(),
            conn: self.conn.clone(),
            keys: qkeys.clone(),
            worker: name.to_owned(),
            retry_base_ms: s.retry_base_delay_ms,
            retry_max_ms: s.retry_max_delay_ms,
            max_throttled_ms: s.max_throttled_secs.saturating_mul(1_000),
            retention: retention.clone(),
            // A backstop: logs go with the records they cover when those are pruned.
            search_log_secs: s.finished_retention_secs.saturating_add(86_400),
            acks: 0,
        };
        tokio::spawn(
            batcher
                .run(received)
                .instrument(tracing::info_span!("acks", queue = %queue, worker = %name)),
        );
        let ack = Acker {
            outcomes,
            metrics: self.metrics.clone(),
            queue: queue.clone(),
        };
        let queue = queue.clone();
        let stopping = shutdown.clone();
        let worker = WorkerBuilder::new(name)
            .backend(backend)
            .concurrency(s.concurrency)
            .build(
                move |payload: Value, id: ApalisTaskId, wctx: WorkerContext| {
                    let handler = handler.clone();
                    let ack = ack.clone();
                    let queue = queue.clone();
                    let stop = stopping.clone();
                    async move {
                        let id_s = id.to_string();
                        let span = tracing::info_span!("job", queue = %queue, task_id = %id_s);
                        async move {
                            let started = Instant::now();
                            let running = ack.metrics.start(&queue);
                            let outcome = match (
                                serde_json::from_value::<J>(payload),
                                id_s.parse::<TaskId>(),
                            ) {
                                (Ok(job), Ok(task_id)) => {
                                    let ctx = JobContext {
                                        task_id,
                                        queue,
                                        worker: wctx.name().to_owned(),
                                    };
                                    let job = AssertUnwindSafe(handler(job, ctx)).catch_unwind();
                                    let Some(ran) = Running::new(stop.clone()).run(job).await
                                    else {
                                        // Left in flight: `release` hands it back at once.
                                        tracing::info!(
                                            "stopped while waiting; its task goes back to the queue"
                                        );
                                        return Ok(());
                                    };
                                    ran.unwrap_or_else(|_| {
                                        Err(JobError::transient("handler panicked"))
                                    })
                                }
                                (Err(e), _) => {
                                    Err(JobError::permanent(format!("invalid payload: {e}")))
                                }
                                (_, Err(e)) => Err(JobError::permanent(e)),
                            };
                            drop(running);
                            ack.ack(&id_s, &outcome, started.elapsed()).await
                        }
                        .instrument(span)
                        .await
                    }
                },
            );

        // apalis heartbeats only when it polls, and it does not poll while every slot is busy:
        // a worker whose tasks all wait longer than the orphan window (a rate limit's permit,
        // a slow upstream) would be declared dead and its tasks run twice. Our own heartbeat
        // keeps it alive for as long as this incarnation runs.
        // What `coinbeat workers` shows (host, pid, start); it lives about as long as the sweep
        // of dead workers would keep this one's registry entry.
        let info_ttl = s.orphan_after() * 10;
        if let Err(e) = register_info(&self.conn, qkeys, name, &host(), info_ttl).await {
            tracing::debug!(worker = %name, error = %e, "could not write the worker info record");
        }
        let beating = CancellationToken::new();
        tokio::spawn(keep_alive(
            self.conn.clone(),
            (qkeys.workers(), qkeys.worker_info(name)),
            name.to_owned(),
            (heartbeat, info_ttl),
            beating.clone(),
        ));
        let _stop_beating = beating.drop_guard();

        let stop = shutdown.clone();
        let run = worker.run_until(async move {
            stop.cancelled().await;
            Ok::<(), std::io::Error>(())
        });
        let grace = s.shutdown_timeout();
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            r = run => r,
            () = ack_failed.cancelled() => {
                tracing::warn!(worker = %name, "an ack could not be recorded; ending this run so its tasks are handed back");
                Ok(())
            }
            () = deadline => {
                tracing::warn!(worker = %name, timeout_secs = grace.as_secs(), "shutdown timeout; releasing unfinished tasks");
                Ok(())
            }
        }
    }

    /// Hands back whatever `name` still holds and deregisters it. If Redis is unreachable the
    /// live workers' orphan recovery does the same later.
    async fn release(&self, qkeys: &QueueKeys, name: &str) {
        let r: Result<u64, _> = scripts::RELEASE
            .key(qkeys.inflight(name))
            .key(qkeys.active())
            .key(qkeys.workers())
            .key(qkeys.worker_metadata(name))
            .key(qkeys.signal())
            .key(qkeys.worker_info(name))
            .arg(name)
            .arg(qkeys.available_channel())
            .invoke_async(&mut self.conn.clone())
            .await;
        match r {
            Ok(0) => {}
            Ok(n) => tracing::info!(worker = %name, released = n, "released unfinished tasks"),
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "could not release tasks; orphan recovery will")
            }
        }
    }
}

/// Refreshes `name`'s heartbeat in the workers ZSET and the expiry of its info record every
/// `every`, until `stop`, on Redis's clock (`heartbeat.lua`). A worker that orphan recovery
/// already removed stays removed (its tasks went back to the queue; the backend's next
/// heartbeat finds it gone and the incarnation restarts).
async fn keep_alive(
    conn: QueueConn,
    (workers, info): (String, String),
    name: String,
    (every, info_ttl): (Duration, Duration),
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let beat: redis::RedisResult<i64> = scripts::HEARTBEAT
            .key(&workers)
            .key(&info)
            .arg(&name)
            .arg(info_ttl.as_millis() as u64)
            .invoke_async(&mut conn.clone())
            .await;
        if let Err(e) = beat {
            tracing::debug!(worker = %name, error = %e, "heartbeat failed; retrying next interval");
        }
    }
}

/// How many times an ack call is sent before the run is given up, and the pause before the
/// third try (doubling: 0, 100, 200, 400 ms, 0.7 s in all). The first resend goes at once: the
/// failure made the connection manager reconnect, and the resend rides the fresh connection
/// (with one call in flight, a pause first would find a connection reset during the pause
/// just as broken). ack.lua removes each task from this worker's in-flight set first and
/// answers "stale" for one that is not there, so sending a batch again after a lost reply
/// never records an outcome twice.
const ACK_TRIES: u32 = 5;
const ACK_RETRY_FIRST: Duration = Duration::from_millis(100);

/// Most outcomes one ack call records. A call takes whatever finished while the previous one
/// was in flight, up to this many: one task when the worker is idle, so nothing waits to be
/// batched.
const ACK_BATCH: usize = 256;

/// One ack in this many prunes, [`ACK_PRUNE_EVERY`] × `ACK_STEP` records at most: still more
/// than the one record each ack adds. A batch prunes what its acks would have pruned each.
const ACK_PRUNE_EVERY: u64 = 16;

/// Most finished records one ack call prunes: [`ACK_STEP`] per ack of a full batch.
const ACK_PRUNE_MOST: u64 = ACK_BATCH as u64 * ACK_STEP;

/// Why a run's outcome was not recorded: the ack failed every try (the incarnation ends, so its
/// tasks are handed back) or the incarnation's acker is gone.
#[derive(Debug, thiserror::Error)]
#[error("the outcome was not recorded: {0}")]
pub(crate) struct AckError(String);

/// A finished run waiting for its ack.
#[derive(Debug)]
struct Finished {
    id: String,
    /// "ok", "permanent", "transient" or "throttled".
    kind: &'static str,
    /// The result JSON (ok) or the error's reason.
    text: String,
    jitter: f64,
    least_delay_ms: u64,
    reply: oneshot::Sender<Result<Acked, AckError>>,
}

/// What ack.lua said of one task.
#[derive(Debug)]
struct Acked {
    state: String,
    attempts: u64,
    wait_ms: u64,
    /// How many times its batch was sent.
    tries: u32,
}

/// The handlers' side of acking: hands each run's outcome to the incarnation's [`AckBatcher`]
/// and waits for what ack.lua made of it.
#[derive(Debug, Clone)]
struct Acker {
    outcomes: mpsc::UnboundedSender<Finished>,
    metrics: RuntimeMetrics,
    queue: QueueName,
}

impl Acker {
    /// Records the outcome of a run of task `id` that took `ran_for`, in Redis and in the
    /// metrics.
    async fn ack(&self, id: &str, outcome: &JobResult, ran_for: Duration) -> Result<(), AckError> {
        let least_delay_ms = match outcome {
            Err(e) => e.retry_after().map_or(0, |d| d.as_millis() as u64),
            Ok(_) => 0,
        };
        let (kind, text) = match outcome {
            Ok(result) => (
                "ok",
                result
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_else(|| "null".into()),
            ),
            Err(JobError::Permanent(r)) => ("permanent", r.clone()),
            Err(JobError::Transient(r)) => ("transient", r.clone()),
            Err(e @ JobError::Throttled { .. }) => ("throttled", e.reason().to_owned()),
        };
        let (reply, answer) = oneshot::channel();
        let gone = || AckError("this worker's acker has stopped".into());
        self.outcomes
            .send(Finished {
                id: id.to_owned(),
                kind,
                text,
                jitter: rand::rng().random(),
                least_delay_ms,
                reply,
            })
            .map_err(|_| gone())?;
        let Acked {
            state,
            attempts,
            wait_ms,
            tries,
        } = answer.await.map_err(|_| gone())??;
        let text = outcome.as_ref().err().map_or("", JobError::reason);
        if state == "stale" && tries > 1 {
            // The earlier try most likely ran and only its reply was lost.
            tracing::debug!(tries, "ack found the task already acked");
        }
        let recorded = match state.as_str() {
            "done" => {
                tracing::debug!(attempts, "job done");
                Outcome::Done
            }
            "retry" => {
                tracing::warn!(attempts, error = %text, retry_in_ms = wait_ms, "job failed; will retry");
                Outcome::Retried
            }
            "throttled" => {
                tracing::info!(error = %text, retry_in_ms = wait_ms, "job throttled; back when the wait is over");
                Outcome::Throttled
            }
            "dead" => {
                tracing::error!(attempts, error = %text, "job dead");
                Outcome::Dead
            }
            _ => {
                tracing::warn!("result dropped: task no longer held by this worker");
                Outcome::Dropped
            }
        };
        self.metrics
            .finished(&self.queue, recorded, ran_for, attempts);
        Ok(())
    }
}

/// One incarnation's acker: records the outcomes the handlers send, many per ack.lua call.
#[derive(Debug)]
struct AckBatcher {
    /// Cancelled when an ack call fails every try (see `incarnation`).
    failed: CancellationToken,
    conn: QueueConn,
    keys: QueueKeys,
    /// The incarnation whose in-flight set the acks check.
    worker: String,
    retry_base_ms: u64,
    retry_max_ms: u64,
    /// The queue's `max_throttled_secs`, in ms.
    max_throttled_ms: u64,
    /// What each ack prunes on the way.
    retention: Retention,
    /// How long an hour's search log lives (the retention and a day).
    search_log_secs: u64,
    /// Acks sent by this incarnation: only every [`ACK_PRUNE_EVERY`]th prunes (unless memory
    /// is pressed), so a busy queue does not pay a range query per task.
    acks: u64,
}

impl AckBatcher {
    /// Sends whatever is ready, one call at a time, until every [`Acker`] is gone or a call
    /// fails every try. Natural batching: no wait to fill a batch; what finishes while a call
    /// is in flight goes in the next one.
    async fn run(mut self, mut outcomes: mpsc::UnboundedReceiver<Finished>) {
        let mut batch = Vec::with_capacity(ACK_BATCH);
        while outcomes.recv_many(&mut batch, ACK_BATCH).await > 0 {
            if !self.send(&mut batch).await {
                // The incarnation ends; runs still waiting learn their ack was not recorded.
                return;
            }
        }
    }

    /// Records `batch` (emptied) in one ack.lua call and answers each run; false when the call
    /// failed every try.
    async fn send(&mut self, batch: &mut Vec<Finished>) -> bool {
        let (age_ms, pressed) = self.retention.age_ms().await;
        let mut prune = 0;
        for _ in 0..batch.len() {
            let turn = self.acks.is_multiple_of(ACK_PRUNE_EVERY);
            self.acks += 1;
            prune += match (pressed, turn) {
                (true, _) => ACK_STEP_PRESSED,
                (false, true) => ACK_STEP * ACK_PRUNE_EVERY,
                (false, false) => 0,
            };
        }
        // Still at least 2 per ack in the largest batch, and no more than one call's worth of
        // deletes: above the high-water mark a full batch would otherwise block Redis for 2,048.
        let prune = prune.min(ACK_PRUNE_MOST);
        let mut invocation = scripts::ACK.prepare_invoke();
        invocation
            .key(self.keys.inflight(&self.worker))
            .key(self.keys.done())
            .key(self.keys.dead())
            .key(self.keys.delayed())
            .key(self.keys.finished())
            .key(self.keys.data())
            .key(self.keys.errors())
            .key(self.keys.search_hours())
            .arg(self.retry_base_ms)
            .arg(self.retry_max_ms)
            .arg(self.max_throttled_ms)
            .arg(self.keys.meta_prefix())
            .arg(age_ms)
            .arg(prune)
            .arg(self.keys.idempotency_prefix())
            .arg(self.keys.history_prefix())
            .arg(self.keys.search_log_prefix())
            .arg(self.search_log_secs);
        for f in batch.iter() {
            invocation
                .arg(&f.id)
                .arg(f.kind)
                .arg(&f.text)
                .arg(f.jitter)
                .arg(f.least_delay_ms);
        }
        let mut pause = Duration::ZERO;
        let mut tries = 0;
        let replies: Vec<(String, u64, u64)> = loop {
            tries += 1;
            match invocation.invoke_async(&mut self.conn.clone()).await {
                Ok(replies) => break replies,
                Err(e) if tries < ACK_TRIES => {
                    tracing::debug!(error = %e, tries, tasks = batch.len(), "ack failed; sending it again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).max(ACK_RETRY_FIRST);
                }
                Err(e) => {
                    tracing::warn!(error = %e, tries, tasks = batch.len(), "ack failed every try; handing this run's tasks back");
                    self.failed.cancel();
                    for f in batch.drain(..) {
                        let _ = f.reply.send(Err(AckError(e.to_string())));
                    }
                    return false;
                }
            }
        };
        let mut replies = replies.into_iter();
        for f in batch.drain(..) {
            let answer = match replies.next() {
                Some((state, attempts, wait_ms)) => Ok(Acked {
                    state,
                    attempts,
                    wait_ms,
                    tries,
                }),
                None => Err(AckError(
                    "ack.lua answered for fewer tasks than it was sent".into(),
                )),
            };
            // A run whose future was dropped (shutdown timeout) no longer waits.
            let _ = f.reply.send(answer);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_worker_name_is_new_and_says_queue_and_pid() {
        let q = QueueName::parse("prices").unwrap();
        let (a, b) = (worker_name(&q), worker_name(&q));
        assert_ne!(a, b, "two incarnations in one process never share a name");
        assert!(a.starts_with("prices-"), "{a}");
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }
}
