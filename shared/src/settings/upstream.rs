//! How workers treat every upstream call: retries of transient failures, how long a request may
//! wait for a rate-limit permit, and the circuit breaker shared by every replica.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[upstream]`: the same for every provider (each provider's rate limit is with the provider).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamSettings {
    /// Retries of a transient failure (network error, timeout, 5xx) inside one job, with
    /// exponential backoff and full jitter; past them the job fails transiently and the queue
    /// retries it later.
    pub retries: u32,
    /// The first retry's backoff ceiling; it doubles per retry up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Longest one request waits for a rate-limit permit (an upstream's push-back included);
    /// past it the job is handed back as throttled and retried later, never failed.
    pub max_permit_wait_ms: u64,
    /// Consecutive failures that open a provider's breaker, for every replica at once.
    pub breaker_failures: u32,
    /// While a breaker is open, one probe request per this interval; its success closes it.
    pub breaker_probe_ms: u64,
    /// Longest body read from an upstream, after decompression; a longer one is an error that
    /// names this setting, and reading stops there (a broken or hostile upstream cannot make a
    /// worker buffer without bound). The largest real answers: an Etherscan list page of 10,000
    /// rows (`wallets.page_size` at its maximum) is about 7 MiB of `tokentx` (about 720 bytes a
    /// row) and 7.5 to 20 MiB of `txlist` (650 bytes a row plus the call's `input`: 780 for a
    /// token transfer, 1,900 for a typical swap); CoinGecko's `/coins/markets` with 250 rows is
    /// about 0.2 MiB (860 bytes a row). 32 MiB holds a full `txlist` page whose calls average
    /// 40 words of input.
    pub max_body_bytes: usize,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            retries: 2,
            retry_base_ms: 200,
            retry_max_ms: 2_000,
            max_permit_wait_ms: 30_000,
            breaker_failures: 5,
            breaker_probe_ms: 10_000,
            max_body_bytes: 32 << 20,
        }
    }
}

impl UpstreamSettings {
    pub fn max_permit_wait(&self) -> Duration {
        Duration::from_millis(self.max_permit_wait_ms)
    }

    pub fn breaker_probe_interval(&self) -> Duration {
        Duration::from_millis(self.breaker_probe_ms.max(1))
    }

    /// The backoff ceiling before retry `n` (1-based): base × 2^(n-1), at most `retry_max_ms`.
    pub fn backoff_ceiling(&self, n: u32) -> Duration {
        let factor = 1u64 << n.saturating_sub(1).min(20);
        Duration::from_millis(
            self.retry_base_ms
                .saturating_mul(factor)
                .min(self.retry_max_ms.max(self.retry_base_ms)),
        )
    }
}
