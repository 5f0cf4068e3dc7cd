//! Prometheus metrics without a metrics crate: an in-process [`Registry`] of counters, gauges
//! and histograms, gauges read from Redis at scrape time ([`RedisGauges`]), both written in
//! the text exposition format 0.0.4 by one [`TextWriter`].
//!
//! No HTTP here (`shared` has no web framework): the API serves `/metrics` itself, and the
//! workers and the scheduler through `coinbeat-ops`. Why no crate: ARCHITECTURE.md, "Metrics".
//!
//! - [`text`]: the format (HELP, TYPE, samples, escaping, name rules).
//! - [`registry`]: [`Registry`], [`Counter`], [`Gauge`], [`Histogram`].
//! - [`redis_gauges`]: queue depth and age, limiter counters, breaker state, `coinbeat_redis_up`.

pub mod redis_gauges;
pub mod registry;
pub mod text;

pub use redis_gauges::{RedisGauges, breaker_state_value};
pub use registry::{
    BoundCounter, BoundHistogram, Counter, Gauge, HTTP_BUCKETS, Histogram, Registry, TASK_BUCKETS,
};
pub use text::{CONTENT_TYPE, Kind, TextWriter};
