//! `coinbeat-api`: the thin HTTP API over the price cache and the queues. It reads the cache,
//! enqueues work on demand and reports on tasks and queues; it never calls an upstream.
//!
//! - [`auth`]: who may call which route: API keys and JWTs, roles, the one check on every route.
//! - [`on_demand`]: every route that enqueues on request: fresh data short-circuits, identical
//!   requests share one task (single flight).
//! - [`cache_reads`]: hits and misses of the cache reads, counted in this process.
//! - [`state`]: [`AppState`], the clone-cheap handles every request shares (one lazy Redis
//!   connection, the price cache, the producer), and the time bound on every Redis call.
//! - [`error`]: [`ApiError`], the one JSON error shape, and the layer that puts every other error
//!   response (405, 413, timeouts) into that shape.
//! - [`json`]: [`JsonBody`], a JSON body extractor whose rejections use that shape.
//! - [`metrics`]: [`metrics::HttpMetrics`], requests counted and timed by route template, method
//!   and status (served with the Redis gauges at `GET /metrics`).
//! - [`live_prices`]: [`live_prices::LivePrices`], the in-process copy of the price records that
//!   price reads are served from, kept current by the price event channel.
//! - [`price_events`]: [`price_events::PriceEvents`], the fan-out of price updates (one
//!   broadcast channel fed by the copy's follower) to the live streams, and their client bound.
//! - [`price_feed`]: [`price_feed::PriceFeed`], what one live stream sends (snapshot, updates,
//!   `lagged`, `closing`), whether over SSE or a WebSocket.
//! - [`vs_currency`]: `?vs=eur`, a price's figures in another currency through the stored
//!   exchange rate, with the rate's own age and source.
//! - [`dashboard`]: the web UI at `/ui`, its assets compiled in.
//! - [`routes`]: the router, its middleware, and one file per route group.
//! - [`server`]: [`serve`] on a given listener (it also runs the copy's follower) and [`run`] on
//!   the configured address.

pub mod auth;
pub mod boot;
pub mod cache_reads;
pub mod catalogue;
pub mod dashboard;
pub mod error;
pub mod exact;
pub mod hardening;
pub mod json;
pub mod live_prices;
pub mod metrics;
pub mod on_demand;
pub mod openapi;
pub mod price_events;
pub mod price_feed;
pub mod price_json;
pub mod routes;
pub mod server;
pub mod state;
pub mod vs_currency;

pub use error::ApiError;
pub use json::JsonBody;
pub use routes::router;
pub use server::{ServeError, run, serve};
pub use state::AppState;
