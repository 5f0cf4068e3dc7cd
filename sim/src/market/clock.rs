//! The market's step counter: steps pass with time (every `step_ms`) and on request
//! (`advance_steps`), and a quote's `last_updated_at` is when its step began. The time since
//! start also drives the churn epochs ([`super::listing`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct Clock {
    started: Instant,
    started_unix_ms: u64,
    /// 0 freezes time-driven steps.
    step_ms: u64,
    manual_steps: AtomicU64,
    last_manual_unix_ms: AtomicU64,
}

impl Clock {
    pub(crate) fn new(step_ms: u64) -> Self {
        let now = now_unix_ms();
        Self {
            started: Instant::now(),
            started_unix_ms: now,
            step_ms,
            manual_steps: AtomicU64::new(0),
            last_manual_unix_ms: AtomicU64::new(now),
        }
    }

    pub(crate) fn step(&self) -> u64 {
        self.timed_steps() + self.manual_steps.load(Ordering::Relaxed)
    }

    pub(crate) fn advance(&self, steps: u64) {
        self.manual_steps.fetch_add(steps, Ordering::Relaxed);
        self.last_manual_unix_ms
            .fetch_max(now_unix_ms(), Ordering::Relaxed);
    }

    /// Unix seconds at which the current step began.
    pub(crate) fn step_began_unix_secs(&self) -> u64 {
        let timed = self.started_unix_ms + self.timed_steps() * self.step_ms;
        timed.max(self.last_manual_unix_ms.load(Ordering::Relaxed)) / 1000
    }

    /// Time since the sim started (tokio's clock, so paused-time tests control it).
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn timed_steps(&self) -> u64 {
        match self.step_ms {
            0 => 0,
            ms => self.started.elapsed().as_millis() as u64 / ms,
        }
    }
}

pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn steps_pass_with_time_and_on_request() {
        let clock = Clock::new(1000);
        assert_eq!(clock.step(), 0);
        tokio::time::advance(Duration::from_millis(2500)).await;
        assert_eq!(clock.step(), 2);
        clock.advance(3);
        assert_eq!(clock.step(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_step_freezes_time_driven_steps() {
        let clock = Clock::new(0);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(clock.step(), 0);
    }
}
