//! [`QueueBackend`]: what apalis's `WorkerBuilder` runs a worker on. It is apalis-redis's
//! `RedisStorage` with its Redis side replaced by ours ([`QueueStore`]): the same apalis-core
//! `Persisted` loop (register, heartbeat, fetch in batches), the same task shape, key names and
//! JSON codec, so the workers still run on apalis (its builder, concurrency and middleware).
//!
//! Closing does not touch the registry either: apalis-redis's close removes the wrong member
//! (defect 4); our runtime's release deregisters the worker and hands back what it held.

use std::task::{Context, Poll};

use apalis_codec::json::JsonCodec;
use apalis_core::{
    backend::{
        Backend, BackendConfig, WireFormatBackend,
        finalize::Durable,
        persistence::{Persisted, TaskPersistLayer},
    },
    task::Task,
    worker::context::WorkerContext,
};
use apalis_redis::{Config as ApalisConfig, Error};
use serde_json::Value;
use ulid::Ulid;

use super::store::QueueStore;

/// One worker incarnation's backend.
#[derive(Debug)]
pub(crate) struct QueueBackend {
    persist: Persisted<QueueStore>,
    codec: JsonCodec,
}

impl QueueBackend {
    pub(crate) fn new(store: QueueStore) -> Self {
        Self {
            persist: Persisted::new(store),
            codec: JsonCodec::default(),
        }
    }
}

impl Backend for QueueBackend {
    type Task = Task<Vec<u8>>;
    type Error = Error;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        let heartbeat = self.persist.config().heartbeat_interval;
        self.persist.poll_ready(cx, worker, heartbeat)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        self.persist.poll_next(cx, worker)
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        self.persist.poll_close(cx, worker)
    }
}

impl BackendConfig for QueueBackend {
    type Args = Value;
    type Id = Ulid;
    type Kind = Durable;
    type Config = ApalisConfig;
    type Layer = TaskPersistLayer<JsonCodec<Value>, Value>;

    fn config(&self) -> &Self::Config {
        self.persist.config()
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        let batch = self.persist.config().batch_size;
        // Results and leases off: the runtime acks each task itself (`ack.lua`).
        self.persist
            .layer(JsonCodec::<Value>::default(), batch)
            .persist_results(false)
            .lock_tasks(false)
    }
}

impl WireFormatBackend for QueueBackend {
    type Codec = JsonCodec;
    type Compact = Vec<u8>;

    fn codec(&self) -> &Self::Codec {
        &self.codec
    }
}
