//! `coinbeat-sim`: an independent simulator of the upstream APIs' wire formats, so coinbeat can be run
//! and tested without reaching the real providers. It depends on nothing of ours on purpose: a
//! mistake shared with the clients' serde types would hide itself.
//!
//! - [`config`]: [`SimConfig`] and the run-time [`Faults`].
//! - [`server`]: [`start`] (background, returns a [`SimHandle`]), [`serve`] and [`run_until`].
//! - `coingecko/`: CoinGecko v3 (`/api/v3/ping`, `/api/v3/simple/price`), one file per endpoint.
//! - `market/`: the coin catalogue and the seeded, deterministic price walks.
//! - `faults`, `limiter`: latency, injected errors, outages and the per-minute request limit.
//! - [`control`]: the `/sim/` routes that change faults and expose [`Stats`] and [`Served`] prices.
//! - `number`, `json`: number text written digit by digit, and JSON objects that keep their order.

pub mod config;
pub mod control;
pub mod error;
pub mod served;
pub mod server;
pub mod stats;

mod coingecko;
mod faults;
mod json;
mod limiter;
mod market;
mod number;
mod rng;
mod state;

pub use config::{Faults, SimConfig};
pub use control::ControlRequest;
pub use error::SimError;
pub use served::{Served, ServedPrice};
pub use server::{SimHandle, run_until, serve, start};
pub use stats::Stats;
