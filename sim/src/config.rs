//! What a simulator starts with: where it listens, how its market moves, which faults it injects.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::SimError;

/// Settings of one simulator. `Default` listens on an ephemeral port of 127.0.0.1, which is what
/// tests want; the binary defaults to 127.0.0.1:9180.
#[derive(Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Seeds the price walks and the error injection: the same seed and the same steps give the
    /// same prices, whatever order requests arrive in.
    pub seed: u64,
    /// How often prices take a step, in milliseconds. 0 freezes them: steps then come only from
    /// `advance_steps` in a [`crate::ControlRequest`].
    pub step_ms: u64,
    /// Synthetic coins `sim-coin-00001` ..= `sim-coin-{N}` on top of the built-in ones, for load
    /// tests. They cost nothing until requested.
    pub extra_coins: u32,
    /// Faults at start; `/sim/control` changes them at run time.
    pub faults: Faults,
    /// When non-empty, provider endpoints demand one of these keys (CoinGecko: demo or pro,
    /// header or query); when empty, any key or none is accepted.
    pub api_keys: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 42,
            step_ms: 1000,
            extra_coins: 0,
            faults: Faults::default(),
            api_keys: Vec::new(),
        }
    }
}

// Keys are fake here, but they are still never printed, like everywhere else in coinbeat.
impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("addr", &self.addr)
            .field("seed", &self.seed)
            .field("step_ms", &self.step_ms)
            .field("extra_coins", &self.extra_coins)
            .field("faults", &self.faults)
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .finish()
    }
}

/// Faults injected into every provider request (never into `/sim/` routes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Added before every provider request is answered, including rejected ones.
    pub latency_ms: u64,
    /// Fraction (0..=1) of admitted requests answered with a 503 instead.
    pub error_rate: f64,
    /// Requests per sliding minute before answers turn into 429s; 0 means unlimited.
    /// Every answered request counts, errors included, as on CoinGecko; 429s do not, so a
    /// `retry-after` is honest.
    pub rate_limit_per_minute: u32,
    /// Every provider endpoint answers 503 while set.
    pub down: bool,
}

impl Faults {
    pub(crate) fn validate(self) -> Result<Self, SimError> {
        if (0.0..=1.0).contains(&self.error_rate) {
            Ok(self)
        } else {
            Err(SimError::ErrorRate(self.error_rate))
        }
    }
}
