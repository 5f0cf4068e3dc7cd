//! Sliding-window limits: a request count per minute, like CoinGecko's "calls per minute", and a
//! weighted window for Binance's request weight and Etherscan's calls per second. Each remembers
//! when every admitted request came, so it can say exactly when the window frees room.

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
}

/// A window of `span` holding weighted entries (a plain count is weight 1).
#[derive(Debug)]
pub(crate) struct WeightWindow {
    span: Duration,
    /// Admission times and weights within the last `span`, oldest first.
    entries: VecDeque<(Instant, u32)>,
}

/// Refused: the weight used now, and how long until the request would fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full {
    pub(crate) used: u64,
    pub(crate) wait: Duration,
}

impl WeightWindow {
    pub(crate) fn new(span: Duration) -> Self {
        Self {
            span,
            entries: VecDeque::new(),
        }
    }

    /// Takes `weight` at `now` if the window then holds at most `limit` (0 means unlimited);
    /// returns the weight used including this one.
    pub(crate) fn try_take(&mut self, now: Instant, weight: u32, limit: u32) -> Result<u64, Full> {
        self.expire(now);
        let used = self.used();
        if limit == 0 || used + u64::from(weight) <= u64::from(limit) {
            self.entries.push_back((now, weight));
            return Ok(used + u64::from(weight));
        }
        // The oldest entries must expire until the new weight fits.
        let mut freed = 0;
        let must_free = (used + u64::from(weight)).saturating_sub(u64::from(limit));
        let mut wait = self.span;
        for &(at, w) in &self.entries {
            freed += u64::from(w);
            if freed >= must_free {
                wait = self.span - now.duration_since(at);
                break;
            }
        }
        Err(Full { used, wait })
    }

    /// The weight used within the window ending `now`.
    pub(crate) fn used_at(&mut self, now: Instant) -> u64 {
        self.expire(now);
        self.used()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    fn used(&self) -> u64 {
        self.entries.iter().map(|&(_, w)| u64::from(w)).sum()
    }

    fn expire(&mut self, now: Instant) {
        while self
            .entries
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) >= self.span)
        {
            self.entries.pop_front();
        }
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
    fn weights_add_up_to_the_limit_and_the_wait_frees_enough_of_them() {
        let start = Instant::now();
        let mut window = WeightWindow::new(WINDOW);
        assert_eq!(window.try_take(start, 4, 10), Ok(4));
        let later = start + Duration::from_secs(20);
        assert_eq!(window.try_take(later, 4, 10), Ok(8));
        let refused = window.try_take(later, 4, 10).unwrap_err();
        assert_eq!(refused.used, 8);
        assert_eq!(refused.wait, Duration::from_secs(40));
        assert_eq!(window.used_at(start + Duration::from_secs(60)), 4);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(44_001)), 45);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
