//! `[history]`: the history that lasts, in PostgreSQL. Off without a `database_url`
//! (`DATABASE_URL`): then no history entry is scheduled, the history worker refuses its jobs,
//! and the API serves history from Redis alone.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

use super::{ScheduleEntry, ScheduleTable, Secret, tiers::TierSettings};
use crate::jobs::Queue;

/// The snapshot sets that are not tiers.
pub const TRACKED: &str = "tracked";
pub const RANKED: &str = "ranked";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HistorySettings {
    /// `postgres://user:password@host:5432/database`; none turns history storage off. Also
    /// read as `DATABASE_URL`.
    pub database_url: Option<Secret>,
    /// Connections each process may open.
    pub max_connections: u32,
    /// How long a call waits for PostgreSQL (a connection, then the statement's answer) before
    /// failing; the history worker's jobs then retry.
    pub timeout_ms: u64,
    /// How often each set of coins has its cached prices stored: set → cron (six fields,
    /// seconds first). A set is `tracked` (the tracked coins), `ranked` (every catalogued coin
    /// with a cached price) or the name of a `[prices.tiers]` tier. Each becomes a
    /// `history-<set>` schedule entry (an entry of that name in `[schedule]` wins). Default:
    /// the tracked coins every 5 minutes, every ranked coin hourly (seed 004's hourly top
    /// 1,000, for the whole market).
    pub snapshots: BTreeMap<String, String>,
    /// Besides each coin's cached price, a snapshot stores the points Redis's history holds for
    /// it from this long before (at most [`CATCH_UP_POINTS`] a coin), so what arrived while
    /// PostgreSQL was down, or between two snapshots, is stored once it is back. 0 stores the
    /// cached price only.
    pub catch_up_secs: u64,
}

/// The most history points a snapshot reads back per coin.
pub const CATCH_UP_POINTS: usize = 2_016;

impl Default for HistorySettings {
    fn default() -> Self {
        Self {
            database_url: None,
            max_connections: 5,
            timeout_ms: 5_000,
            catch_up_secs: 6 * 3_600,
            snapshots: BTreeMap::from([
                (TRACKED.to_owned(), "40 */5 * * * *".to_owned()),
                (RANKED.to_owned(), "50 7 * * * *".to_owned()),
            ]),
        }
    }
}

impl HistorySettings {
    /// Whether history storage is on (a database URL is set).
    pub fn is_on(&self) -> bool {
        self.database_url
            .as_ref()
            .is_some_and(|url| !url.expose().trim().is_empty())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    /// Every snapshot set names `tracked`, `ranked` or a tier.
    pub fn validate(&self, tiers: &BTreeMap<String, TierSettings>) -> Result<(), String> {
        for set in self.snapshots.keys() {
            if set != TRACKED && set != RANKED && !tiers.contains_key(set) {
                let names: Vec<&str> = tiers.keys().map(String::as_str).collect();
                return Err(format!(
                    "history.snapshots.{set}: not a set of coins; use {TRACKED}, {RANKED} or a \
                     [prices.tiers] tier ({})",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Adds a `history-<set>` entry per snapshot set, when history storage is on.
    pub fn extend_schedule(&self, table: &mut ScheduleTable) {
        if !self.is_on() {
            return;
        }
        for (set, cron) in &self.snapshots {
            table
                .entry(format!("history-{set}"))
                .or_insert_with(|| ScheduleEntry {
                    cron: cron.clone(),
                    kind: Queue::History,
                    args: serde_json::json!({ "snapshot": { "set": set } }),
                    enabled: true,
                    tier: None,
                });
        }
    }
}
