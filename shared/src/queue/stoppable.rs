//! Waits a job can be stopped in. When its worker shuts down, a job that is only waiting (for a
//! rate limit's permit, a backoff between tries, a batch's pacing) stops there, and its task goes
//! back to the front of the queue at once, with the worker's other unfinished tasks and no
//! attempt spent, instead of holding the shutdown for the queue's whole `shutdown_timeout_secs`.
//! Work between such waits is never cut: a job that is calling an upstream or writing finishes
//! that (or the timeout ends it, as before). A job stopped here runs again from its start
//! elsewhere, so only waits a job can be re-run from are [`sleep`]s.

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

/// The job running on this task: its worker's stop, and how many of its waits are stoppable
/// now.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    stop: CancellationToken,
    waiting: Arc<(AtomicUsize, Notify)>,
}

impl Running {
    pub(crate) fn new(stop: CancellationToken) -> Self {
        Self {
            stop,
            waiting: Arc::default(),
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
        let (count, changed) = &*self.waiting;
        loop {
            // Made before the count is read: a wait that begins in between still wakes it.
            let begun = changed.notified();
            if count.load(Ordering::SeqCst) > 0 {
                return;
            }
            begun.await;
        }
    }
}

/// Sleeps `duration`. Inside a job, a shutdown of its worker stops the job here, now or when it
/// comes to such a wait (see the module). Elsewhere, a plain sleep.
pub async fn sleep(duration: Duration) {
    let Ok(running) = RUNNING.try_with(Running::clone) else {
        return tokio::time::sleep(duration).await;
    };
    let (count, changed) = &*running.waiting;
    count.fetch_add(1, Ordering::SeqCst);
    changed.notify_waiters();
    let _done = Decrement(count);
    tokio::time::sleep(duration).await;
}

/// Takes one from the count of stoppable waits when the wait ends, or is dropped.
struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
