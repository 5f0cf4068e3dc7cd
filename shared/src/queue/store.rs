//! [`QueueStore`]: the Redis side of the worker backend, apalis-core's `Persistence` written
//! against apalis-redis 1.0.0's storage layout with our own scripts where its own are the
//! defect:
//!
//! - `register.lua` and `heartbeat.lua`: on Redis's clock (`TIME`), never the worker's, and no
//!   write of the global `core:apalis:queues:list` key;
//! - `recover_orphans.lua`: the orphan cut-off on Redis's clock, ids handed back in bounded
//!   steps;
//! - `fetch.lua`: a task whose record cannot be read is dead with the reason and the rest of
//!   the batch runs (apalis-redis rejects the whole batch and the queue sticks).
//!
//! What of apalis-redis works is kept: its `Config` (key names), its decoder
//! (`queries::deserialize_with_meta`), and the worker loop around `Persisted`. Results are
//! acked by our runtime (`ack.lua`), so no task events reach `handle_events`; and a stopping
//! worker's release (`release.lua`) hands back everything it holds, so `reenqueue_abandoned`
//! has nothing to do.

use std::time::Duration;

use super::conn::QueueConn;
use apalis_core::{
    backend::persistence::{Persistence, TaskEvent},
    task::Task,
    worker::context::WorkerContext,
};
use apalis_redis::{Config as ApalisConfig, Error, queries::deserialize_with_meta};
use serde_json::Value;

use super::scripts::{FETCH, HEARTBEAT, RECOVER_ORPHANS, REGISTER};
use crate::keys::QueueKeys;

/// Most tasks one fetch may take: well below Lua's unpack limit and the size of a reply worth
/// waiting for.
pub const MAX_FETCH_BATCH: usize = 1_000;

/// The Redis side of one queue's workers. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct QueueStore {
    conn: QueueConn,
    keys: QueueKeys,
    config: ApalisConfig,
    /// A worker silent this long is gone: its tasks go back to the queue.
    orphan_after: Duration,
}

impl QueueStore {
    pub(crate) fn new(
        conn: QueueConn,
        keys: QueueKeys,
        config: ApalisConfig,
        orphan_after: Duration,
    ) -> Self {
        Self {
            conn,
            keys,
            config,
            orphan_after,
        }
    }

    pub(crate) fn config(&self) -> &ApalisConfig {
        &self.config
    }
}

impl Persistence for QueueStore {
    type Compact = Vec<u8>;
    type Response = Value;
    type Error = Error;

    async fn register(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        let _registered_at: i64 = REGISTER
            .key(self.keys.workers())
            .key(self.keys.worker_metadata(worker.name()))
            .arg(worker.name())
            .arg(self.orphan_after.as_secs())
            .arg("RedisStorage")
            .arg(worker.get_service())
            .invoke_async(&mut self.conn)
            .await?;
        Ok(())
    }

    async fn heartbeat(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        let registered: i64 = HEARTBEAT
            .key(self.keys.workers())
            .key(self.keys.worker_info(worker.name()))
            .arg(worker.name())
            .arg(0)
            .invoke_async(&mut self.conn)
            .await?;
        if registered == 0 {
            // Orphan recovery took this worker for dead and handed its tasks back.
            return Err(Error::WorkerOutOfSync);
        }
        let recovered: u64 = RECOVER_ORPHANS
            .key(self.keys.workers())
            .key(self.keys.active())
            .key(self.keys.signal())
            .arg(self.keys.inflight_prefix())
            .arg(self.orphan_after.as_secs())
            .arg(worker.name())
            .arg(self.keys.available_channel())
            .invoke_async(&mut self.conn)
            .await?;
        if recovered > 0 {
            tracing::info!(recovered, "handed back the tasks of silent workers");
        }
        Ok(())
    }

    async fn fetch_next(&mut self, worker: &WorkerContext) -> Result<Vec<Task<Vec<u8>>>, Error> {
        let reply: Vec<redis::Value> = FETCH
            .key(self.keys.workers())
            .key(self.keys.active())
            .key(self.keys.inflight(worker.name()))
            .key(self.keys.data())
            .key(self.keys.signal())
            .key(self.keys.dead())
            .key(self.keys.finished())
            .key(self.keys.paused())
            .key(self.keys.errors())
            .arg(self.keys.meta_prefix())
            .arg(self.config.batch_size.clamp(1, MAX_FETCH_BATCH))
            .arg(worker.name())
            .invoke_async(&mut self.conn)
            .await?;
        Ok(deserialize_with_meta(reply)?
            .into_iter()
            .map(|task| task.into_full_compact())
            .collect())
    }

    async fn reenqueue_abandoned(
        &mut self,
        _tasks: Vec<Task<Vec<u8>>>,
        _worker: &WorkerContext,
    ) -> Result<u64, Error> {
        // They stay in this worker's in-flight set until the runtime's release, right after
        // the worker stops, hands back everything the set holds.
        Ok(0)
    }

    async fn handle_events(
        &mut self,
        _events: Vec<TaskEvent<Value>>,
        _worker: &WorkerContext,
    ) -> Result<(), Error> {
        // Results are recorded by the runtime's ack (`ack.lua`): the persist layer is built
        // with results and leases off, so nothing it could send needs writing here.
        Ok(())
    }

    async fn push_tasks(&mut self, _tasks: Vec<Task<Vec<u8>>>) -> Result<(), Error> {
        Err(Error::Database(redis::RedisError::from((
            redis::ErrorKind::Client,
            "tasks are enqueued through coinbeat's Producer, not the worker backend",
        ))))
    }
}
