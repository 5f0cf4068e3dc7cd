//! coinbeat's workers: one handler module per queue, one thin binary per queue in `src/bin/`.
//!
//! - [`boot`]: what every worker does (settings, telemetry, Redis, run until a signal).
//! - [`worker`]: the [`Worker`] trait every queue worker implements: its name, job, upstreams;
//!   `coinbeat::component` lists them.
//! - [`prices`]: the `prices` queue, over the [`coingecko`] client with the [`binance`] fallback.
//! - [`market`]: the `market` queue (top-N, global figures, supply), over [`coingecko`] with the
//!   [`coinlore`] fallback.
//! - [`cleanup`]: the `cleanup` queue (expired records, old history, finished tasks, dead workers).
//! - [`health`]: the `health` queue (upstreams, Redis, queues, workers → the health report).
//! - [`rates`]: the `rates` queue (exchange rates from USD, over the [`alphavantage`] client).
//! - [`alerts`]: the `alerts` queue (each price alert's crossing, signed, to its webhook).
//! - [`history`]: the `history` queue (price snapshots and coin metadata into PostgreSQL).
//! - [`wallet`]: the `wallet` queue, over the [`etherscan`] client (API V2).
//! - [`upstream`]: the gate every upstream request passes (shared rate limit, shared circuit
//!   breaker, retries with backoff, push-back on throttling), over [`http`].
//! - [`stream`]: the `stream-worker` (no queue): live prices from Binance's streams, CoinCap's
//!   as the second source, leased per shard across replicas; [`websocket`] is their transport.
//! - [`probe`]: the diagnostic `probe` queue (no upstream), for benchmarks and process tests.

pub mod alchemy;
pub mod alphavantage;
pub mod binance;
pub mod boot;
pub mod coincap;
pub mod coingecko;
pub mod coinlore;
pub mod etherscan;
pub mod http;
pub mod price_api;
pub mod stream;
pub mod upstream;
pub mod websocket;
#[macro_use]
pub mod worker;

pub use worker::{Running, Spec, Worker};

// Every queue worker: its module and its type. Adding a queue is its module and a line here
// (ARCHITECTURE.md, "Add a queue and its worker"); `coinbeat::component` and the deployment
// checks follow.
workers! {
    prices::PriceWorker,
    market::MarketWorker,
    wallet::WalletWorker,
    health::HealthWorker,
    cleanup::CleanupWorker,
    catalogue::CatalogueWorker,
    history::HistoryWorker,
    rates::RatesWorker,
    alerts::AlertsWorker,
    probe::ProbeWorker,
}
