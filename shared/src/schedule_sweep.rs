//! Removing the keys of schedule entries that are gone from the table: an entry's run record,
//! its control HASH and its history (`Keys::schedule_entry`, `schedule_control`,
//! `schedule_history`) would otherwise stay forever once the entry is deleted from the settings
//! or its watched wallet is removed.
//!
//! Only entries idle for [`IDLE_BEFORE_SWEEP`] go: the table the cleanup worker reads may be a
//! moment apart from a scheduler's (a rolling deploy, a wallet added a second ago), and a live
//! entry's record (its pause above all) must not be lost to that. An entry still ticking is
//! never idle that long unless its cron fires less often than that, and such an entry still in
//! the table is never touched.

use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::{
    keys::Keys,
    schedule_control::{PAUSED_MS, RESUMED_MS},
    schedule_state::{LAST_ENQUEUED_MS, LAST_TICK_MS},
    settings::ScheduleTable,
};

/// How long an entry missing from the table must have been idle before its keys go.
pub const IDLE_BEFORE_SWEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Keys read per SCAN step.
const SCAN_COUNT: usize = 500;

/// Deletes the keys of every entry not in `table` and idle since before `now_ms -
/// IDLE_BEFORE_SWEEP`. Returns how many entries' keys went.
pub async fn sweep_removed_entries(
    conn: &ConnectionManager,
    keys: &Keys,
    table: &ScheduleTable,
    now_ms: i64,
) -> Result<u64, redis::RedisError> {
    let mut c = conn.clone();
    let prefix = keys.schedule_prefix();
    let mut gone = std::collections::BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(&mut c)
            .await?;
        for key in found {
            let rest = key.strip_prefix(&prefix).unwrap_or_default();
            let entry = rest
                .strip_suffix(":control")
                .or_else(|| rest.strip_suffix(":history"))
                .unwrap_or(rest);
            if !entry.is_empty() && !table.contains_key(entry) {
                gone.insert(entry.to_owned());
            }
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let idle_before = now_ms - IDLE_BEFORE_SWEEP.as_millis() as i64;
    let mut removed = 0;
    for entry in gone {
        if last_activity_ms(&mut c, keys, &entry).await? < idle_before {
            let _: u64 = redis::cmd("DEL")
                .arg(keys.schedule_entry(&entry))
                .arg(keys.schedule_control(&entry))
                .arg(keys.schedule_history(&entry))
                .query_async(&mut c)
                .await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The newest time (unix ms) anything happened to `entry`: a tick enqueued, a pause, a resume;
/// 0 when its keys say nothing.
async fn last_activity_ms(
    c: &mut ConnectionManager,
    keys: &Keys,
    entry: &str,
) -> Result<i64, redis::RedisError> {
    let (tick, enqueued): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
        .arg(keys.schedule_entry(entry))
        .arg(LAST_TICK_MS)
        .arg(LAST_ENQUEUED_MS)
        .query_async(c)
        .await?;
    let (paused, resumed): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
        .arg(keys.schedule_control(entry))
        .arg(PAUSED_MS)
        .arg(RESUMED_MS)
        .query_async(c)
        .await?;
    Ok([tick, enqueued, paused, resumed]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0))
}
