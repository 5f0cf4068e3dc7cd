//! coinbeat's workers: one handler module per queue, one thin binary per queue in `src/bin/`.
//!
//! - [`boot`]: what every worker binary does (settings, telemetry, Redis, run until a signal).
//! - [`probe`]: the diagnostic `probe` queue (no upstream), for benchmarks and process tests.

pub mod boot;
pub mod probe;
