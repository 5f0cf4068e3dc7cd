//! What each queue finished over time: done, retried, throttled and dead, per minute for the
//! last day and per hour for the last 30 days. `ack.lua` counts every batch it records into a
//! bounded set of small hashes (at most 57 keys per queue, each with an expiry); `history.lua`
//! reads a range of them in one call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{QueueError, RedisConn, scripts::HISTORY};
use crate::{jobs::QueueName, keys::Keys};

/// The length of a history bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Resolution {
    /// Kept for a day.
    Minute,
    /// Kept for 30 days.
    Hour,
}

impl Resolution {
    /// The most buckets kept: a day of minutes, 30 days of hours.
    pub fn kept(self) -> u32 {
        match self {
            Resolution::Minute => 1440,
            Resolution::Hour => 720,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
        }
    }

    fn length_ms(self) -> i64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
        }
    }
}

/// What a queue finished in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bucket {
    /// The bucket's first instant (Redis's clock).
    pub start: DateTime<Utc>,
    /// Runs that succeeded.
    pub done: u64,
    /// Runs that failed and will be tried again.
    pub retried: u64,
    /// Runs an upstream's limit sent back to wait (not a failed attempt).
    pub throttled: u64,
    /// Runs that failed for good.
    pub dead: u64,
}

/// The last `buckets` buckets of `resolution` of `queue`, oldest first, the current (partial)
/// one last. `buckets` is clamped to 1 ..= [`Resolution::kept`].
pub async fn queue_history(
    conn: &impl RedisConn,
    keys: &Keys,
    queue: &QueueName,
    resolution: Resolution,
    buckets: u32,
) -> Result<Vec<Bucket>, QueueError> {
    let wanted = buckets.clamp(1, resolution.kept());
    let reply: Vec<i64> = HISTORY
        .key(keys.queue(queue).history_prefix())
        .arg(resolution.as_str())
        .arg(wanted)
        .invoke_async(&mut conn.clone())
        .await?;
    let (Some(&first), Some(counts)) = (reply.get(1), reply.get(2..)) else {
        return Err(QueueError::Protocol("history returned no header".into()));
    };
    if counts.len() != wanted as usize * 4 {
        return Err(QueueError::Protocol(format!(
            "history returned {} counters for {wanted} buckets",
            counts.len()
        )));
    }
    let n = |v: i64| v.max(0) as u64;
    Ok(counts
        .chunks_exact(4)
        .zip(first..)
        .map(|(c, index)| Bucket {
            start: DateTime::from_timestamp_millis(index * resolution.length_ms())
                .unwrap_or_default(),
            done: n(c[0]),
            retried: n(c[1]),
            throttled: n(c[2]),
            dead: n(c[3]),
        })
        .collect())
}
