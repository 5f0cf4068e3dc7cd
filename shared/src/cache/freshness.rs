//! How old a record is and whether it is still fresh.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A record's age at the time of reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Freshness {
    /// Whole seconds since the record was fetched (0 if the clocks disagree).
    pub age_seconds: u64,
    /// True once the record is older than the freshness window.
    pub stale: bool,
}

impl Freshness {
    pub fn assess(fetched_at: DateTime<Utc>, now: DateTime<Utc>, fresh_for: Duration) -> Self {
        let age_ms = (now - fetched_at).num_milliseconds().max(0) as u64;
        Self {
            age_seconds: age_ms / 1_000,
            stale: age_ms > fresh_for.as_millis() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_turns_stale_only_past_the_window() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let window = Duration::from_secs(600);
        let at = |s| t0 + chrono::Duration::seconds(s);
        assert_eq!(
            Freshness::assess(t0, at(599), window),
            Freshness {
                age_seconds: 599,
                stale: false
            }
        );
        assert!(!Freshness::assess(t0, at(600), window).stale);
        assert!(Freshness::assess(t0, at(601), window).stale);
        assert_eq!(Freshness::assess(at(5), t0, window).age_seconds, 0);
    }
}
