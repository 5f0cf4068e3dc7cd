//! `coinbeat-ops`: the small HTTP server each worker process and the scheduler run beside
//! their work, on `ops.addr` (port 0 by default: a free port, logged). The API serves the same
//! routes ([`routes`], the same handlers) on its own port.
//!
//! - `GET /healthz`: 200 while the process can answer at all.
//! - `GET /readyz`: 200 while Redis answers PING within `ops.redis_timeout_ms` and the
//!   process's runtime runs (the worker's apalis worker, the scheduler's beat); 503 otherwise.
//! - `GET /metrics`: the process's [`Registry`](coinbeat_shared::metrics::Registry), then the
//!   gauges it reads from Redis ([`RedisGauges`](coinbeat_shared::metrics::RedisGauges)).
//!
//! It is its own crate so that `shared` stays free of axum and the workers and the scheduler
//! share one server. [`Ops`] is what it serves; [`bind`] and [`serve`] take the listener
//! apart from serving, so tests bind port 0; [`beside`] runs a process's work with the server
//! beside it.

mod server;
mod state;

pub use server::{OpsError, beside, bind, healthz, metrics, readyz, routes, serve, spawn};
pub use state::Ops;
