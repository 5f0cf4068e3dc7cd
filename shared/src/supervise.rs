//! Keeping a long-running task going: [`supervise`] starts it again each time it ends on its
//! own or fails, after a [`Backoff`], until shutdown. The queue runtime's worker incarnations,
//! the beat's cron workers and the API's price subscriber all run under it.

use std::{
    fmt::Display,
    future::Future,
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;

/// Waits between attempts: `first`, doubling up to `max`; back to `first` once an attempt has
/// lasted `healthy_after` (it was working, so its end is news, not a pattern).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    healthy_after: Duration,
    next: Duration,
}

impl Backoff {
    /// Doubling from `first` to `max`; an attempt that lasted 30 s resets it.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            healthy_after: Duration::from_secs(30),
            next: first,
        }
    }

    /// An attempt that lasted `healthy` resets the wait to `first`.
    pub const fn healthy_after(mut self, healthy: Duration) -> Self {
        self.healthy_after = healthy;
        self
    }

    /// The wait before the next attempt; the one after is twice as long (at most `max`).
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// Starts again from `first`.
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Notes that an attempt lasted `ran`: a healthy one resets the wait.
    pub fn ran(&mut self, ran: Duration) {
        if ran >= self.healthy_after {
            self.reset();
        }
    }
}

/// How loudly a restart is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restarts {
    /// `warn`: a restart means work stopped (a worker, a beat).
    Warn,
    /// `debug`: a restart is routine while Redis is away and something else reports it (the
    /// API's price copy, whose readiness falls back to Redis reads).
    Debug,
}

/// Runs `attempt` until `stop` is cancelled: whenever it returns (an error, or `Ok` without a
/// shutdown) it is logged as `what` and started again after `backoff`'s wait. Returns once
/// `stop` is cancelled and the current attempt has returned.
pub async fn supervise<F, Fut, E>(
    what: &str,
    mut backoff: Backoff,
    restarts: Restarts,
    stop: &CancellationToken,
    mut attempt: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    while !stop.is_cancelled() {
        let started = Instant::now();
        let result = attempt().await;
        if stop.is_cancelled() {
            break;
        }
        backoff.ran(started.elapsed());
        let wait = backoff.next_wait();
        let retry_in_ms = wait.as_millis() as u64;
        match (&result, restarts) {
            (Ok(()), Restarts::Warn) => {
                tracing::warn!(
                    task = what,
                    retry_in_ms,
                    "ended without shutdown; restarting"
                )
            }
            (Err(e), Restarts::Warn) => {
                tracing::warn!(task = what, error = %e, retry_in_ms, "stopped by an error; restarting")
            }
            (Ok(()), Restarts::Debug) => {
                tracing::debug!(task = what, retry_in_ms, "ended; starting again")
            }
            (Err(e), Restarts::Debug) => {
                tracing::debug!(task = what, error = %e, retry_in_ms, "failed; starting again")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    };

    use super::*;

    #[test]
    fn the_wait_doubles_to_its_cap_and_a_healthy_attempt_resets_it() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350))
            .healthy_after(Duration::from_secs(5));
        let waits: Vec<u128> = (0..4).map(|_| backoff.next_wait().as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
        backoff.ran(Duration::from_secs(1));
        assert_eq!(backoff.next_wait(), Duration::from_millis(350));
        backoff.ran(Duration::from_secs(5));
        assert_eq!(backoff.next_wait(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_task_is_started_again_with_backoff_until_shutdown() {
        let stop = CancellationToken::new();
        let attempts = Arc::new(AtomicU32::new(0));
        let started = tokio::time::Instant::now();
        let task = {
            let (stop, attempts) = (stop.clone(), attempts.clone());
            tokio::spawn(async move {
                let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(4));
                supervise("test", backoff, Restarts::Warn, &stop, || {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    async { Err::<(), _>("down") }
                })
                .await
            })
        };
        // Attempts at 0 s, then after waits of 1, 2, 4 and 4 s: 1 s, 3 s, 7 s, 11 s.
        tokio::time::sleep(Duration::from_millis(11_500)).await;
        assert_eq!(attempts.load(Ordering::SeqCst), 5);
        stop.cancel();
        task.await.unwrap();
        assert_eq!(attempts.load(Ordering::SeqCst), 5, "none after shutdown");
        assert!(started.elapsed() < Duration::from_secs(12));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_during_an_attempt_ends_supervision_without_a_restart() {
        let stop = CancellationToken::new();
        let attempts = Arc::new(AtomicU32::new(0));
        let task = {
            let (stop, attempts) = (stop.clone(), attempts.clone());
            tokio::spawn(async move {
                let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
                supervise("test", backoff, Restarts::Warn, &stop.clone(), || {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    let stop = stop.clone();
                    async move {
                        stop.cancelled().await;
                        Ok::<(), String>(())
                    }
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_secs(60)).await;
        stop.cancel();
        task.await.unwrap();
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }
}
