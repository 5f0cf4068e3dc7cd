//! Waits a job can be stopped in. When its worker shuts down, a job that is only waiting (for a
//! rate limit's permit, a backoff between tries, a batch's pacing) stops there, and its task goes
//! back to the front of the queue, with no attempt spent, as soon as the worker's other running
//! jobs are done, instead of holding the shutdown for the queue's whole
//! `shutdown_timeout_secs`. A job stopped here runs again from its start elsewhere, so only
//! waits a job can be re-run from are [`sleep`]s.
//!
//! A job with branches running at once (batches in parallel) is stopped only while none of
//! them is [`busy`]: a call to an upstream holds that from its permit to the recording of its
//! answer, so no call is cut halfway (its permit spent, its answer or a push-back unrecorded).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

tokio::task_local! {
    static RUNNING: Running;
}

/// The job running on this task: its worker's stop, and what its branches are doing.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    stop: CancellationToken,
    now: Arc<Now>,
}

/// How many of a job's branches are in a [`sleep`], and how many are [`busy`].
#[derive(Debug, Default)]
struct Now {
    waiting: AtomicUsize,
    busy: AtomicUsize,
    changed: Notify,
}

impl Now {
    fn stoppable(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0 && self.busy.load(Ordering::SeqCst) == 0
    }
}

impl Running {
    pub(crate) fn new(stop: CancellationToken) -> Self {
        Self {
            stop,
            now: Arc::default(),
        }
    }

    /// Runs `job` until it ends (`Some` of its output), or until the worker stops while the job
    /// is in a [`sleep`] (`None`: the job is dropped there).
    pub(crate) async fn run<F: Future>(self, job: F) -> Option<F::Output> {
        let watch = self.clone();
        tokio::select! {
            biased;
            output = RUNNING.scope(self, job) => Some(output),
            () = watch.stopped_while_waiting() => None,
        }
    }

    async fn stopped_while_waiting(&self) {
        self.stop.cancelled().await;
        loop {
            // Made before the counts are read: a change in between still wakes it.
            let changed = self.now.changed.notified();
            if self.now.stoppable() {
                return;
            }
            changed.await;
        }
    }
}

/// Sleeps `duration`. Inside a job, a shutdown of its worker stops the job here, now or when it
/// comes to such a wait, once none of its branches is [`busy`] (see the module). Elsewhere, a
/// plain sleep.
pub async fn sleep(duration: Duration) {
    let _waiting = RUNNING
        .try_with(Running::clone)
        .ok()
        .map(|running| Count::up(running.now, |now| &now.waiting));
    tokio::time::sleep(duration).await;
}

/// Marks the caller's job busy until the guard is dropped: while it is, the job is not stopped
/// in a [`sleep`] of another of its branches. Outside a job, nothing.
pub fn busy() -> Busy {
    Busy {
        _count: RUNNING
            .try_with(Running::clone)
            .ok()
            .map(|running| Count::up(running.now, |now| &now.busy)),
    }
}

/// What [`busy`] returns.
#[derive(Debug)]
#[must_use = "the job is busy only while this is held"]
pub struct Busy {
    _count: Option<Count>,
}

/// One of a job's counts, held up by one while this lives; each change wakes the watcher.
#[derive(Debug)]
struct Count {
    now: Arc<Now>,
    of: fn(&Now) -> &AtomicUsize,
}

impl Count {
    fn up(now: Arc<Now>, of: fn(&Now) -> &AtomicUsize) -> Self {
        of(&now).fetch_add(1, Ordering::SeqCst);
        now.changed.notify_waiters();
        Self { now, of }
    }
}

impl Drop for Count {
    fn drop(&mut self) {
        (self.of)(&self.now).fetch_sub(1, Ordering::SeqCst);
        self.now.changed.notify_waiters();
    }
}
