//! The beat of one entry: an apalis-cron worker (`CronScheduler` over the entry's schedule, in
//! UTC) whose handler claims each tick, a supervisor that restarts that worker if apalis-cron
//! ends it, and a reconciler that runs catch-up at start and whenever a tick may have been lost.
//!
//! Why the supervisor: apalis-cron reports a tick whose delay could not be set up in time as a
//! backend error (`OutOfRange`), and any backend error ends `Worker::run`, which would silently
//! stop the entry for good. A handler error, by contrast, is only an event; our handler never
//! returns one anyway, since a tick that could not be enqueued is retried by catch-up instead.

use std::{sync::Arc, time::Duration};

use apalis::prelude::{WorkerBuilder, WorkerError};
use apalis_cron::{CronScheduler, Tick};
use chrono::{DateTime, Utc};
use coinbeat_shared::supervise::{self, Backoff, Restarts};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    catch_up::catch_up,
    claim::{Claimer, Trigger},
    entry::Entry,
};

/// How long a stopping beat waits for ticks being enqueued before it lets go of them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Restart backoff of a failed cron worker.
const RESTART_BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
/// Retry backoff of a catch-up that could not reach Redis.
const CATCH_UP_BACKOFF: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(15));

/// Runs `entry`'s beat until `shutdown` is cancelled.
pub(crate) async fn run_entry(entry: Arc<Entry>, claimer: Claimer, shutdown: CancellationToken) {
    // Signalled when ticks may have been lost; the reconciler then catches up.
    let behind = Arc::new(Notify::new());
    let reconciler = tokio::spawn(reconcile(
        entry.clone(),
        claimer.clone(),
        behind.clone(),
        shutdown.clone(),
    ));
    supervise(&entry, &claimer, &behind, &shutdown).await;
    if let Err(e) = reconciler.await {
        tracing::error!(entry = entry.name(), error = %e, "catch-up task failed");
    }
    tracing::info!(entry = entry.name(), "beat stopped");
}

/// Keeps one cron worker running for the entry, restarting it when it ends on its own.
async fn supervise(
    entry: &Arc<Entry>,
    claimer: &Claimer,
    behind: &Arc<Notify>,
    shutdown: &CancellationToken,
) {
    let what = format!("beat of {}", entry.name());
    supervise::supervise(&what, RESTART_BACKOFF, Restarts::Warn, shutdown, || async {
        tracing::info!(entry = entry.name(), cron = entry.cron(), "beat starting");
        let result = incarnation(entry, claimer, behind, shutdown).await;
        if !shutdown.is_cancelled() {
            // Ticks due while no worker ran are caught up (once) by the reconciler.
            behind.notify_one();
        }
        result
    })
    .await;
}

/// One apalis-cron worker, until it fails or shutdown completes.
async fn incarnation(
    entry: &Arc<Entry>,
    claimer: &Claimer,
    behind: &Arc<Notify>,
    shutdown: &CancellationToken,
) -> Result<(), WorkerError> {
    let handler = TickHandler {
        entry: entry.clone(),
        claimer: claimer.clone(),
        behind: behind.clone(),
    };
    let worker = WorkerBuilder::new(format!("coinbeat-beat-{}", entry.name()))
        .backend(CronScheduler::new(entry.schedule().clone()))
        .build(move |tick: Tick| {
            let handler = handler.clone();
            async move { handler.on_tick(tick).await }
        });
    let stop = shutdown.clone();
    let run = worker.run_until(async move {
        stop.cancelled().await;
        Ok::<(), std::io::Error>(())
    });
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = run => r,
        () = deadline => {
            tracing::warn!(entry = entry.name(), "shutdown grace over; abandoning ticks in progress");
            Ok(())
        }
    }
}

/// The apalis handler: claims the tick at its scheduled time. Never fails (see the module doc).
#[derive(Debug, Clone)]
struct TickHandler {
    entry: Arc<Entry>,
    claimer: Claimer,
    behind: Arc<Notify>,
}

impl TickHandler {
    async fn on_tick(&self, tick: Tick) {
        let name = self.entry.name();
        // The tick's scheduled time, never "now": every replica must derive the same claim.
        let Some(at) = i64::try_from(tick.get_timestamp())
            .ok()
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
        else {
            tracing::warn!(
                entry = name,
                tick = tick.get_timestamp(),
                "tick out of range"
            );
            return;
        };
        match self.claimer.claim(&self.entry, at, Trigger::Tick).await {
            Ok(_) => {
                // Fired so late that the next tick has passed too (a suspended host, a stalled
                // runtime): apalis-cron schedules from "now", so those ticks were skipped.
                if self
                    .entry
                    .next_after(at)
                    .is_some_and(|next| next <= Utc::now())
                {
                    tracing::warn!(entry = name, tick = %at.to_rfc3339(), "tick handled late; catching up");
                    self.behind.notify_one();
                }
            }
            Err(e) => {
                tracing::warn!(
                    entry = name, tick = %at.to_rfc3339(), error = %e,
                    "tick not enqueued; will catch up when redis answers"
                );
                self.behind.notify_one();
            }
        }
    }
}

/// Catches the entry up at start, then again each time the beat says it may be behind, retrying
/// (with backoff) while Redis does not answer.
async fn reconcile(
    entry: Arc<Entry>,
    claimer: Claimer,
    behind: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        let mut backoff = CATCH_UP_BACKOFF;
        loop {
            let result = tokio::select! {
                r = catch_up(&claimer, &entry, Utc::now()) => r,
                () = shutdown.cancelled() => return,
            };
            let wait = backoff.next_wait();
            match result {
                Ok(_) => break,
                Err(e) => tracing::warn!(
                    entry = entry.name(), error = %e, retry_in_ms = wait.as_millis() as u64,
                    "catch-up failed; retrying"
                ),
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {},
                () = shutdown.cancelled() => return,
            }
        }
        tokio::select! {
            () = behind.notified() => {},
            () = shutdown.cancelled() => return,
        }
    }
}
