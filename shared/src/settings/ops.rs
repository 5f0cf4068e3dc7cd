//! Settings of the ops HTTP server every worker process and the scheduler run beside their
//! work: `/healthz`, `/readyz`, `/metrics`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the ops server listens. The API has none: it serves the same paths on its own port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OpsSettings {
    /// `false`: no ops server (`COINBEAT_OPS__ENABLED=false`).
    pub enabled: bool,
    /// `host:port` to listen on (`COINBEAT_OPS__ADDR`). Port 0, the default, takes a free port
    /// and logs it (`ops server listening`), so the several processes of `coinbeat up` on one
    /// host never collide; give each process its own fixed port when a Prometheus scrapes them.
    pub addr: String,
    /// A Redis read at scrape or readiness time slower than this counts as Redis down.
    pub redis_timeout_ms: u64,
}

impl Default for OpsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            addr: "127.0.0.1:0".into(),
            redis_timeout_ms: 1_000,
        }
    }
}

impl OpsSettings {
    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms.max(1))
    }
}
