//! How long cached market data (top-N snapshot, global figures, supply) counts as fresh and
//! how long it is kept.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Freshness of market data. The `market` schedule entry runs hourly and `supply` daily, so each
/// window is twice that: one late or failed run does not turn the data stale.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MarketsSettings {
    /// Past this age the top-N snapshot and the global figures are served with `stale: true`.
    pub fresh_secs: u64,
    /// Past this age a coin's supply figures are served with `stale: true`.
    pub supply_fresh_secs: u64,
    /// Redis drops a document nobody refreshed for this long.
    pub expire_secs: u64,
}

impl Default for MarketsSettings {
    fn default() -> Self {
        Self {
            fresh_secs: 7_200,
            supply_fresh_secs: 2 * 86_400,
            expire_secs: 7 * 24 * 3_600,
        }
    }
}

impl MarketsSettings {
    pub fn fresh_for(&self) -> Duration {
        Duration::from_secs(self.fresh_secs)
    }

    pub fn supply_fresh_for(&self) -> Duration {
        Duration::from_secs(self.supply_fresh_secs)
    }

    /// Never shorter than either freshness window.
    pub fn expire_after(&self) -> Duration {
        Duration::from_secs(
            self.expire_secs
                .max(self.fresh_secs)
                .max(self.supply_fresh_secs)
                .max(1),
        )
    }
}
