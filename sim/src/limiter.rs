//! A sliding one-minute request limit, like CoinGecko's "calls per minute": it remembers when each
//! admitted request came, so it can say exactly when the window frees a slot.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct SlidingWindow {
    /// Admission times within the last window, oldest first.
    admitted: VecDeque<Instant>,
}

impl SlidingWindow {
    /// Admits a request at `now` if fewer than `limit` were admitted in the last minute (0 means
    /// unlimited); otherwise says how long until a slot frees.
    pub(crate) fn try_admit(&mut self, now: Instant, limit: u32) -> Result<(), Duration> {
        while self
            .admitted
            .front()
            .is_some_and(|&t| now.duration_since(t) >= WINDOW)
        {
            self.admitted.pop_front();
        }
        if limit == 0 {
            // Unlimited: nothing to remember, but stay ready if a limit is set later.
            self.admitted.push_back(now);
            return Ok(());
        }
        // A limit lowered at run time may leave more than `limit` entries; the extra ones must
        // expire first, so the wait is measured from the entry that frees the `limit`th slot.
        let excess = self.admitted.len().saturating_sub(limit as usize - 1);
        match excess.checked_sub(1).map(|i| self.admitted[i]) {
            Some(frees_slot) => Err(WINDOW - now.duration_since(frees_slot)),
            None => {
                self.admitted.push_back(now);
                Ok(())
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.admitted.clear();
    }
}

/// `retry-after` in whole seconds, rounded up and never 0.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_then_says_when_the_oldest_expires() {
        let start = Instant::now();
        let mut window = SlidingWindow::default();
        assert!(window.try_admit(start, 2).is_ok());
        assert!(window.try_admit(start + Duration::from_secs(10), 2).is_ok());
        let wait = window
            .try_admit(start + Duration::from_secs(15), 2)
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(45));
        assert!(window.try_admit(start + Duration::from_secs(60), 2).is_ok());
    }

    #[test]
    fn a_lowered_limit_waits_for_enough_entries_to_expire() {
        let start = Instant::now();
        let mut window = SlidingWindow::default();
        for s in 0..3 {
            window.try_admit(start + Duration::from_secs(s), 0).unwrap();
        }
        // Three in the window, limit now 2: the first two must expire, the second at 61 s.
        let wait = window
            .try_admit(start + Duration::from_secs(30), 2)
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(31));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(44_001)), 45);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
