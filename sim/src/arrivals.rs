//! When each provider request arrived, on the simulator's clock, so a test can check a limit
//! held at the upstream's side: `GET /sim/arrivals?provider=etherscan` lists them, and
//! [`busiest_window`] counts the most that fell in any window of a given length.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::Provider;

/// Arrivals kept per provider; older ones are forgotten first.
const KEEP: usize = 200_000;

#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    by_provider: BTreeMap<Provider, VecDeque<u64>>,
}

impl Arrivals {
    /// Notes a request of `provider` arriving now.
    pub(crate) fn record(&mut self, provider: Provider) {
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let log = self.by_provider.entry(provider).or_default();
        if log.len() == KEEP {
            log.pop_front();
        }
        log.push_back(now_us);
    }

    pub(crate) fn of(&self, provider: Provider) -> Vec<u64> {
        self.by_provider
            .get(&provider)
            .map(|log| log.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn clear(&mut self) {
        self.by_provider.clear();
    }
}

/// The answer of `GET /sim/arrivals?provider=`: unix microseconds, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalLog {
    pub provider: Provider,
    pub arrivals_us: Vec<u64>,
}

impl ArrivalLog {
    /// The most arrivals in any window of `window` (half-open: `[t, t + window)`).
    pub fn busiest_window(&self, window: Duration) -> usize {
        busiest_window(&self.arrivals_us, window)
    }
}

/// The most of `arrivals_us` (sorted, unix microseconds) in any half-open window of `window`.
pub fn busiest_window(arrivals_us: &[u64], window: Duration) -> usize {
    let window_us = window.as_micros() as u64;
    let mut start = 0;
    let mut most = 0;
    for (end, &t) in arrivals_us.iter().enumerate() {
        while t - arrivals_us[start] >= window_us {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_window_counts_half_open_windows() {
        let second = Duration::from_secs(1);
        assert_eq!(busiest_window(&[], second), 0);
        // 0, 0.5 and 0.999 s fall in one second; 1.0 s starts the next.
        assert_eq!(busiest_window(&[0, 500_000, 999_999, 1_000_000], second), 3);
        assert_eq!(
            busiest_window(&[0, 400_000, 800_000, 1_200_000, 1_300_000], second),
            4
        );
    }
}
