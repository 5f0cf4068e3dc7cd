//! Price alerts: how many each caller may hold, where their webhooks may point, and how a
//! delivery is made. How often a failed delivery is retried, and how long between tries, is
//! the `alerts` queue's own setting (`queues.overrides.alerts`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsSettings {
    /// Most alerts one API key (or JWT subject) may hold at once. Past it, `POST /v1/alerts`
    /// answers 409 `too_many_alerts`.
    pub max_per_key: u32,
    /// Let webhooks point at loopback, private, link-local and other internal addresses. Off by
    /// default: an alert must not be a way to make coinbeat call into its own network
    /// (server-side request forgery). `COINBEAT_ALERTS__ALLOW_PRIVATE_TARGETS=true` for a
    /// receiver on the same machine or network, as in development.
    pub allow_private_targets: bool,
    /// How long one webhook call may take, connecting included.
    pub delivery_timeout_ms: u64,
    /// How long a delivered trigger is remembered, so a re-delivered task for it is not sent
    /// again: a day, far past the last retry of a delivery (about 18 minutes by default).
    pub remember_delivered_secs: u64,
}

impl Default for AlertsSettings {
    fn default() -> Self {
        Self {
            max_per_key: 100,
            allow_private_targets: false,
            delivery_timeout_ms: 10_000,
            remember_delivered_secs: 24 * 3_600,
        }
    }
}

impl AlertsSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_per_key == 0 {
            return Err("alerts.max_per_key must be at least 1".into());
        }
        if self.delivery_timeout_ms == 0 {
            return Err("alerts.delivery_timeout_ms must be at least 1".into());
        }
        Ok(())
    }

    pub fn delivery_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.delivery_timeout_ms)
    }
}
