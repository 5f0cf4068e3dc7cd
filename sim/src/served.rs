//! The last price each coin was served at, as the exact number text sent, so tests can check that
//! coinbeat's cache holds exactly what the upstream said. Served at `GET /sim/served`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Per provider, the last served USD price of each coin id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    pub coingecko: BTreeMap<String, ServedPrice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedPrice {
    /// The JSON number text exactly as sent, e.g. `"0.0000220134"`.
    pub usd: String,
    /// When it was sent, unix milliseconds.
    pub served_at_ms: u64,
}
