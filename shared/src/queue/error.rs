//! Errors of the queue layer's Redis operations.

use crate::jobs::QueueName;

use super::TaskId;

/// Why an enqueue or a queue query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue already holds `depth` waiting tasks and taking these would pass `cap`.
    /// Nothing was written.
    #[error("queue {queue} is full: {depth} tasks waiting, cap is {cap}")]
    Full {
        queue: QueueName,
        depth: u64,
        cap: u64,
    },
    /// Redis is above the queue's memory high-water mark (`memory_high_water` of its
    /// `maxmemory`): no task is taken, whatever the backlog, until workers and pruning free
    /// memory. Nothing was written.
    #[error(
        "queue {queue} takes no new tasks: redis memory is {used} bytes, above the high-water \
         mark of {limit} bytes ({percent}% of maxmemory {max})",
        percent = (*high_water * 100.0).round()
    )]
    MemoryFull {
        queue: QueueName,
        used: u64,
        limit: u64,
        max: u64,
        high_water: f64,
    },
    /// The idempotency key is still held by an earlier task.
    #[error("duplicate: idempotency key {key:?} already enqueued task {existing}")]
    Duplicate { key: String, existing: TaskId },
    #[error("payload cannot be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis answered something our scripts never return; a bug or a foreign key.
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
}

impl QueueError {
    /// Whether this is a refusal for room ([`QueueError::Full`] or [`QueueError::MemoryFull`]):
    /// the same work may be offered again later.
    pub fn is_full(&self) -> bool {
        matches!(
            self,
            QueueError::Full { .. } | QueueError::MemoryFull { .. }
        )
    }
}
