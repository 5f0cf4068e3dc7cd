//! `[plan]`: what happens when the schedule costs more calls than a provider's configured limit
//! allows in some window (`coinbeat plan` shows the numbers).

use serde::{Deserialize, Serialize};

/// The plan check's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PlanSettings {
    pub over_limits: OverLimits,
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            over_limits: OverLimits::Refuse,
        }
    }
}

/// What the beat does with a schedule that does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverLimits {
    /// The beat refuses to start, naming each window over its limit and by how much.
    Refuse,
    /// The price tiers' intervals are lengthened until the table fits (`GET /v1/schedules`
    /// shows both intervals); when the rest of the table alone is over, the beat refuses.
    Stretch,
    /// The beat starts and logs the windows over their limits: the limiters hold calls back
    /// (jobs run late) rather than the upstream refusing them. For tests and bursts.
    Warn,
}
