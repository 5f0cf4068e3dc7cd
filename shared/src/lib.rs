//! The contract between coinbeat's processes.
//!
//! Every binary (scheduler, workers, API, CLI) depends on this crate and on nothing of each other.
//!
//! - [`settings`]: the one typed configuration tree (defaults → TOML file → environment).
//! - [`domain`]: parsed domain types (`Symbol`, `Address`, `Chain`).
//! - [`jobs`]: the queue names and job payloads, the wire contract between producers and workers.
//! - [`api_keys`]: making API keys and the settings lines that configure them.
//! - [`breaker`]: the circuit breaker per upstream, shared by every replica through Redis.
//! - [`cache`]: cached records (prices) with newest-wins writes and freshness.
//! - [`keys`]: the only place that builds Redis keys.
//! - [`lease`]: one holder at a time for a piece of work across replicas (a stream shard).
//! - [`metrics`]: Prometheus metrics: an in-process registry, gauges read from Redis at scrape
//!   time, the text exposition format.
//! - [`queue`]: the queue layer over apalis-redis (enqueue, worker runtime, stats, task lookup).
//! - [`ratelimit`]: the distributed rate limiter per upstream (and API key), in Redis.
//! - [`schedule_state`]: the run record of each schedule entry (last tick, its task, next tick).
//! - [`schedule_control`]: pause, resume and run-now of an entry; [`schedule_history`]: its
//!   recent runs (bounded); [`schedule_sweep`]: the keys of entries long gone from the table.
//! - [`tracked_symbols`]: the operator's override of the tracked set, in Redis;
//!   [`watched_wallets`]: the addresses an operator added to the hourly watch.
//! - [`submit`]: a job kind plus JSON arguments, checked, onto its queue (API, CLI, beat).
//! - [`supervise`]: keeping a long-running task going with backoff until shutdown.
//! - [`service`]: the command line of every service binary (`run`, `healthcheck`,
//!   `--check-config`).
//! - [`telemetry`] and [`shutdown`]: logging setup and SIGINT/SIGTERM handling for every binary.
//! - `openapi` (feature `openapi`): the OpenAPI schemas of the domain types, for the API's
//!   document.
//! - `testing` (feature `testing`): a private `redis-server` per test.

pub mod alerts;
pub mod api_keys;
pub mod breaker;
pub mod cache;
pub mod catalogue;
pub mod domain;
pub mod jobs;
pub mod keys;
pub mod lease;
pub mod metrics;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod plan;
pub mod queue;
pub mod ratelimit;
pub mod redis_conn;
pub mod schedule_control;
pub mod schedule_history;
pub mod schedule_state;
pub mod schedule_sweep;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod stream_state;
pub mod submit;
pub mod supervise;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tracked_symbols;
pub mod watched_wallets;

pub use settings::Settings;
