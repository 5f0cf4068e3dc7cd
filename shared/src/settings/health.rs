//! How the health worker judges what it probes.

use serde::{Deserialize, Serialize};

/// Thresholds of the health report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSettings {
    /// An upstream slower than this is `degraded`.
    pub slow_ms: u64,
    /// An upstream that does not answer within this is `down`.
    pub probe_timeout_ms: u64,
    /// A queue whose oldest waiting task is older than this is `degraded`.
    pub queue_lag_secs: u64,
    /// The report disappears after this long without a refresh (the API then says so).
    pub report_ttl_secs: u64,
    /// CoinGecko is asked at most this often (its free plan counts every call against 10,000 a
    /// month, a probe every five minutes alone would spend 8,928); between probes the report
    /// keeps the last answer, with its `probed_at`, and the breaker's state as it is now. Any
    /// failed CoinGecko call since (the breaker counts every worker's) brings the probe
    /// forward. 0 probes every time.
    pub coingecko_probe_secs: u64,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            slow_ms: 2_000,
            probe_timeout_ms: 5_000,
            queue_lag_secs: 60,
            report_ttl_secs: 900,
            coingecko_probe_secs: 3_600,
        }
    }
}
