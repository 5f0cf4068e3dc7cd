//! Enqueueing: immediate tasks straight onto the active list, delayed ones into a bounded
//! delayed set, every call checked against the queue's backlog cap and Redis's memory
//! high-water mark.

use std::time::Duration;

use serde::Serialize;

use super::{
    QueueError, QueueRedis, TaskId, TaskIdError, memory::TASK_OVERHEAD_BYTES, scripts::ENQUEUE,
};
use crate::{
    jobs::{Job, QueueName},
    keys::Keys,
    settings::{QueueSettings, QueuesSettings},
};

/// The least lifetime of a single-flight key. It is let go when its task is done or dead
/// (`ack.lua`), pushed out by every request that joins it, and taken back by a dead retry, so
/// this only bounds a key whose task vanished without an ack (its record pruned, Redis
/// restored from an old snapshot).
pub const SINGLE_FLIGHT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Tasks per script call in a bulk enqueue, so one huge batch never blocks Redis for long.
const BULK_CHUNK: usize = 2_000;

/// Options for one enqueue.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    /// While this key is held, a second enqueue with the same key is refused
    /// ([`QueueError::Duplicate`]). The key always expires (`idempotency_ttl`, or the queue's
    /// default), so the same work can be enqueued again later.
    pub idempotency_key: Option<String>,
    pub idempotency_ttl: Option<Duration>,
    /// Run no earlier than this long from now.
    pub delay: Option<Duration>,
    /// Overrides the queue's `max_retries` for this task.
    pub max_retries: Option<u32>,
    /// The idempotency key is a single-flight key: it lets go as soon as the task holding it is
    /// done or dead (not only at its TTL), so it deduplicates only while that task is waiting,
    /// delayed, running or waiting for a retry.
    pub single_flight: bool,
    /// A claim: like an idempotency key (held for `idempotency_ttl`, a second enqueue with it
    /// is [`QueueError::Duplicate`]), but a whole key of its own (`QueueKeys::tick_claim`) that
    /// purging waiting or dead tasks never deletes, so what it claimed (a schedule tick) stays
    /// claimed. A task has a claim or an idempotency key, not both.
    pub claim: Option<String>,
}

/// Puts tasks on queues. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Producer {
    /// Each queue's Redis, with its memory read at most once a second for every enqueue of
    /// this producer's clones.
    redis: QueueRedis,
    keys: Keys,
    queues: QueuesSettings,
}

struct Entry {
    id: TaskId,
    payload: Vec<u8>,
    max_attempts: u32,
    /// How long from now (Redis's now) it waits; 0: it is ready at once.
    delay_ms: u64,
    idempotency_key: String,
    ttl_secs: u64,
    single_flight: bool,
    /// The claim key, whole; empty for none.
    claim: String,
}

impl Producer {
    /// A producer onto the queues of `redis` (a [`QueueRedis`], or one Redis for them all).
    pub fn new(redis: impl Into<QueueRedis>, keys: Keys, queues: QueuesSettings) -> Self {
        Self {
            redis: redis.into(),
            keys,
            queues,
        }
    }

    /// Each queue's Redis.
    pub fn redis(&self) -> &QueueRedis {
        &self.redis
    }

    /// Enqueues one job on its queue.
    pub async fn enqueue<J: Job>(
        &self,
        job: &J,
        opts: EnqueueOptions,
    ) -> Result<TaskId, QueueError> {
        self.enqueue_to(&J::queue(), job, opts).await
    }

    /// Enqueues one payload on a queue named at run time (the API and the CLI, which take the
    /// queue from the caller). The payload must already have been validated for that queue.
    pub async fn enqueue_to<P: Serialize + ?Sized>(
        &self,
        queue: &QueueName,
        payload: &P,
        opts: EnqueueOptions,
    ) -> Result<TaskId, QueueError> {
        let settings = self.queues.for_queue(queue);
        let entry = entry(&settings, payload, &opts)?;
        let key = if entry.claim.is_empty() {
            entry.idempotency_key.clone()
        } else {
            entry.claim.clone()
        };
        let mut results = self.push(queue, &settings, &[entry], 1).await?;
        match results.pop() {
            Some(Ok(id)) => Ok(id),
            Some(Err(existing)) => Err(QueueError::Duplicate { key, existing }),
            None => Err(QueueError::Protocol("enqueue returned no result".into())),
        }
    }

    /// The task holding idempotency key `key` on `queue`, if the key is held.
    pub async fn idempotency_holder(
        &self,
        queue: &QueueName,
        key: &str,
    ) -> Result<Option<TaskId>, QueueError> {
        let holder: Option<String> = redis::cmd("GET")
            .arg(self.keys.queue(queue).idempotency(key))
            .query_async(&mut self.redis.conn(queue))
            .await?;
        holder
            .map(|id| {
                id.parse()
                    .map_err(|e: TaskIdError| QueueError::Protocol(e.to_string()))
            })
            .transpose()
    }

    /// Makes `id` the holder of idempotency key `key` on `queue` for the queue's idempotency
    /// TTL, unless the key is held already (then nothing changes).
    pub async fn hold_idempotency(
        &self,
        queue: &QueueName,
        key: &str,
        id: TaskId,
    ) -> Result<(), QueueError> {
        let ttl = self.queues.for_queue(queue).idempotency_ttl_secs.max(1);
        let _: Option<String> = redis::cmd("SET")
            .arg(self.keys.queue(queue).idempotency(key))
            .arg(id.to_string())
            .arg("NX")
            .arg("EX")
            .arg(ttl)
            .query_async(&mut self.redis.conn(queue))
            .await?;
        Ok(())
    }

    /// Enqueues many jobs of one kind, immediately, without idempotency keys.
    ///
    /// The cap is checked for the whole batch before anything is written: a batch that does
    /// not fit fails with [`QueueError::Full`] (or [`QueueError::MemoryFull`]) and writes
    /// nothing. (Batches are written in
    /// chunks; a concurrent producer may still fill the queue between chunks, in which case the
    /// chunks already written stay and the error says so by the depth it reports.)
    pub async fn enqueue_bulk<J: Job>(&self, jobs: &[J]) -> Result<Vec<TaskId>, QueueError> {
        let queue = J::queue();
        let settings = self.queues.for_queue(&queue);
        let opts = EnqueueOptions::default();
        let mut ids = Vec::with_capacity(jobs.len());
        let mut remaining = jobs.len();
        for chunk in jobs.chunks(BULK_CHUNK) {
            let entries = chunk
                .iter()
                .map(|j| entry(&settings, j, &opts))
                .collect::<Result<Vec<_>, _>>()?;
            for r in self.push(&queue, &settings, &entries, remaining).await? {
                ids.push(
                    r.map_err(|_| QueueError::Protocol("bulk task refused as duplicate".into()))?,
                );
            }
            remaining -= chunk.len();
        }
        Ok(ids)
    }

    /// Enqueues many jobs of one kind, immediately, each with its own idempotency key (held for
    /// the queue's `idempotency_ttl_secs`). Each result is the new task's id, or `Err` with the
    /// id of the task already holding that key, which was not enqueued again. The cap is
    /// checked as [`Self::enqueue_bulk`] checks it.
    pub async fn enqueue_keyed<J: Job>(
        &self,
        jobs: &[(J, String)],
    ) -> Result<Vec<Result<TaskId, TaskId>>, QueueError> {
        let queue = J::queue();
        let settings = self.queues.for_queue(&queue);
        let mut results = Vec::with_capacity(jobs.len());
        let mut remaining = jobs.len();
        for chunk in jobs.chunks(BULK_CHUNK) {
            let entries = chunk
                .iter()
                .map(|(job, key)| {
                    let opts = EnqueueOptions {
                        idempotency_key: Some(key.clone()),
                        ..EnqueueOptions::default()
                    };
                    entry(&settings, job, &opts)
                })
                .collect::<Result<Vec<_>, _>>()?;
            results.extend(self.push(&queue, &settings, &entries, remaining).await?);
            remaining -= chunk.len();
        }
        Ok(results)
    }

    /// Runs the enqueue script; each result is the new id or the id holding the idempotency key.
    /// Refused before the script when Redis is above the queue's memory high-water mark.
    async fn push(
        &self,
        queue: &QueueName,
        settings: &QueueSettings,
        entries: &[Entry],
        reserve: usize,
    ) -> Result<Vec<Result<TaskId, TaskId>>, QueueError> {
        let cap = settings.max_backlog;
        let route = self.redis.route(queue);
        let k = self.keys.queue(queue);
        if let Some(reading) = route.memory.reading(&k.active()).await
            && let Some(limit) = reading.limit(settings.memory_high_water)
            && reading.used > limit
        {
            return Err(QueueError::MemoryFull {
                queue: queue.clone(),
                used: reading.used,
                limit,
                max: reading.max,
                high_water: settings.memory_high_water,
            });
        }
        let mut inv = ENQUEUE.prepare_invoke();
        inv.key(k.active())
            .key(k.delayed())
            .key(k.data())
            .key(k.signal())
            .arg(k.meta_prefix())
            .arg(k.idempotency_prefix())
            .arg(k.available_channel())
            .arg(cap)
            .arg(reserve.max(entries.len()));
        for e in entries {
            inv.arg(e.id.to_string())
                .arg(&e.payload)
                .arg(e.max_attempts)
                .arg(e.delay_ms)
                .arg(&e.idempotency_key)
                .arg(e.ttl_secs)
                .arg(if e.single_flight { "1" } else { "0" })
                .arg(&e.claim);
        }
        let reply: Vec<redis::Value> = inv.invoke_async(&mut route.conn.clone()).await?;
        route.memory.wrote(
            entries
                .iter()
                .map(|e| e.payload.len() as u64 + TASK_OVERHEAD_BYTES)
                .sum(),
        );
        let mut it = reply.into_iter();
        let ok: i64 = redis::from_redis_value(it.next().unwrap_or(redis::Value::Nil))
            .map_err(|e| QueueError::Protocol(e.to_string()))?;
        let depth: u64 = redis::from_redis_value(it.next().unwrap_or(redis::Value::Nil))
            .map_err(|e| QueueError::Protocol(e.to_string()))?;
        if ok == 0 {
            return Err(QueueError::Full {
                queue: queue.clone(),
                depth,
                cap,
            });
        }
        it.map(|v| {
            let s: String =
                redis::from_redis_value(v).map_err(|e| QueueError::Protocol(e.to_string()))?;
            let (dup, id) = match s.strip_prefix("dup:") {
                Some(rest) => (true, rest),
                None => (false, s.as_str()),
            };
            let id = id
                .parse::<TaskId>()
                .map_err(|e| QueueError::Protocol(e.to_string()))?;
            Ok(if dup { Err(id) } else { Ok(id) })
        })
        .collect()
    }
}

/// One task ready for the enqueue script, with the queue's settings already applied.
fn entry<P: Serialize + ?Sized>(
    settings: &QueueSettings,
    payload: &P,
    opts: &EnqueueOptions,
) -> Result<Entry, QueueError> {
    if opts.claim.is_some() && opts.idempotency_key.is_some() {
        return Err(QueueError::Protocol(
            "a task has a claim or an idempotency key, not both".into(),
        ));
    }
    let mut ttl = opts
        .idempotency_ttl
        .map(|d| d.as_secs().max(1))
        .unwrap_or(settings.idempotency_ttl_secs.max(1));
    if opts.single_flight {
        // Held for as long as the task waits or runs, not only for the usual TTL.
        ttl = ttl.max(SINGLE_FLIGHT_TTL.as_secs());
    }
    Ok(Entry {
        id: TaskId::generate(),
        payload: serde_json::to_vec(payload)?,
        max_attempts: opts
            .max_retries
            .unwrap_or(settings.max_retries)
            .saturating_add(1),
        delay_ms: opts.delay.map_or(0, |d| d.as_millis() as u64),
        idempotency_key: opts.idempotency_key.clone().unwrap_or_default(),
        ttl_secs: ttl,
        single_flight: opts.single_flight,
        claim: opts.claim.clone().unwrap_or_default(),
    })
}
