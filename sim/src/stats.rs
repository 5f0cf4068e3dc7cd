//! Counters of what provider endpoints were asked, served at `GET /sim/stats`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every provider request counts once in `requests_total`, `by_endpoint` and `by_auth`, whatever
/// its answer; the other counters say why a request was not served.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub requests_total: u64,
    /// Keyed by route, e.g. `/api/v3/simple/price`.
    pub by_endpoint: BTreeMap<String, u64>,
    /// Keyed by how the request authenticated: `none`, `demo_header`, `demo_query`, `pro_header`,
    /// `pro_query`.
    pub by_auth: BTreeMap<String, u64>,
    /// Answered 429 by the per-minute limit.
    pub rate_limited: u64,
    /// Answered 503 by the error rate.
    pub injected_errors: u64,
    /// Answered 503 because the sim was set `down`.
    pub down_rejections: u64,
    /// Answered 401 for a missing or unknown key.
    pub auth_failures: u64,
    /// Coin ids asked for by price requests that got through, summed (duplicates counted once).
    pub ids_requested: u64,
}

impl Stats {
    pub(crate) fn record_request(&mut self, endpoint: &str, auth: &str) {
        self.requests_total += 1;
        *self.by_endpoint.entry(endpoint.to_owned()).or_default() += 1;
        *self.by_auth.entry(auth.to_owned()).or_default() += 1;
    }
}
