//! The API over real HTTP against a private redis-server: one test binary, one file per route
//! group, `support` for starting both.

mod admin;
mod admin_data;
mod alerts;
mod auth;
mod coins;
mod dashboard;
mod exposure;
mod fuzz;
mod hardening;
mod history;
mod live_prices;
mod markets;
mod metrics;
mod on_demand;
mod openapi;
mod portfolio;
mod prices;
mod rates;
mod schedules;
mod service;
mod status;
mod streams;
mod support;
mod tasks;
mod wallets;
