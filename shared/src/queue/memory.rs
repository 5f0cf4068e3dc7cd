//! Redis's memory as the queue layer sees it: `used_memory` against `maxmemory`, from
//! `INFO memory` read at most once per [`READING_TTL`] per watch and shared by every enqueue (or
//! every ack) of the process, so a busy producer costs Redis one `INFO` a second, not one per
//! task. One exception keeps a fast producer from writing past `maxmemory` on a second-old
//! reading: once it has written (by estimate) a quarter of what was left below `maxmemory` at
//! the last reading, it reads again. With the shipped sizes that is 35 MB or more between
//! readings (a quarter of the 140 MB between the mark and the k8s Redis's 700 MB), so it only
//! matters for a tiny Redis or an enormous bulk enqueue.
//!
//! Why: with `noeviction`, a Redis at its `maxmemory` refuses every write that could grow it,
//! and apalis's `fetch_next.lua` is one of them (its first write is an `SADD`), so workers could
//! no longer take the tasks that would free the memory. Enqueue stops at a high-water mark
//! below `maxmemory` (`queues.*.memory_high_water`); fetch, ack, release and pruning never
//! look at it, and above it pruning keeps finished records only as long as memory allows.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::conn::QueueConn;
use tokio::sync::Mutex;

/// How long one reading serves.
pub(crate) const READING_TTL: Duration = Duration::from_secs(1);

/// What one waiting task costs Redis besides its payload, by estimate (measured: 360 B for an
/// empty payload, see ARCHITECTURE.md); only for deciding when to read again.
pub(crate) const TASK_OVERHEAD_BYTES: u64 = 360;

/// Redis's memory at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryReading {
    /// `used_memory`, bytes.
    pub used: u64,
    /// `maxmemory`, bytes; 0 means no limit.
    pub max: u64,
}

impl MemoryReading {
    /// Parses the `used_memory` and `maxmemory` lines of `INFO memory`.
    pub fn parse(info: &str) -> Option<Self> {
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Some(Self {
            used: field("used_memory")?,
            max: field("maxmemory")?,
        })
    }

    /// The high-water mark in bytes for `fraction` of `maxmemory`, or `None` when there is no
    /// mark: no `maxmemory`, or a fraction of 1 or more (Redis's own refusal is the only limit).
    pub fn limit(&self, fraction: f64) -> Option<u64> {
        (self.max > 0 && fraction < 1.0).then(|| (self.max as f64 * fraction.max(0.0)) as u64)
    }

    /// Whether `used` is above the mark for `fraction`.
    pub fn above(&self, fraction: f64) -> bool {
        self.limit(fraction).is_some_and(|limit| self.used > limit)
    }
}

/// The last reading (`None` when Redis would not say) and when it was taken.
type Cached = Option<(Instant, Option<MemoryReading>)>;

/// One process's cached view of Redis's memory. Cheap to clone; clones share the reading.
#[derive(Debug, Clone)]
pub(crate) struct MemoryWatch {
    conn: QueueConn,
    last: Arc<Mutex<Cached>>,
    /// Bytes this watch's producer wrote since the last reading, by estimate.
    written: Arc<AtomicU64>,
}

impl MemoryWatch {
    pub(crate) fn new(conn: QueueConn) -> Self {
        Self {
            conn,
            last: Arc::new(Mutex::new(None)),
            written: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Notes about `bytes` written to Redis since the last reading.
    pub(crate) fn wrote(&self, bytes: u64) {
        self.written.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The reading at most [`READING_TTL`] old, taking a new one when it is older. `None` when
    /// Redis would not say (`INFO` refused, unreachable): then no mark applies, and what Redis
    /// itself refuses is still refused.
    /// `at_key` is a key of the queue asking: on a Redis Cluster, the node holding it is read.
    pub(crate) async fn reading(&self, at_key: &str) -> Option<MemoryReading> {
        // Callers that arrive while a reading is under way wait for it rather than send their own.
        let mut last = self.last.lock().await;
        if let Some((at, reading)) = *last
            && at.elapsed() < READING_TTL
            && reading.is_none_or(|r| {
                r.max == 0
                    || self.written.load(Ordering::Relaxed) < r.max.saturating_sub(r.used) / 4
            })
        {
            return reading;
        }
        self.written.store(0, Ordering::Relaxed);
        let info: redis::RedisResult<String> = self
            .conn
            .query_at(at_key, redis::cmd("INFO").arg("memory"))
            .await;
        let reading = match info {
            Ok(info) => MemoryReading::parse(&info),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read redis's memory; no high-water mark applies");
                None
            }
        };
        *last = Some((Instant::now(), reading));
        reading
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_above_its_mark_only_with_a_maxmemory_and_a_fraction_below_one() {
        let info = "# Memory\r\nused_memory:900\r\nused_memory_human:900B\r\nmaxmemory:1000\r\n";
        let r = MemoryReading::parse(info).unwrap();
        assert_eq!(
            r,
            MemoryReading {
                used: 900,
                max: 1000
            }
        );
        assert_eq!(r.limit(0.8), Some(800));
        assert!(r.above(0.8));
        assert!(!r.above(0.95));
        assert!(!r.above(1.0), "a fraction of 1 is no mark");
        let unlimited = MemoryReading { used: 900, max: 0 };
        assert!(!unlimited.above(0.1), "no maxmemory, no mark");
        assert_eq!(MemoryReading::parse("used_memory:1\r\n"), None);
    }
}
