//! The `/sim/` routes, outside every provider's namespace: observe what was asked and served, and
//! change faults at run time. They are never delayed, limited, failed or counted.
//!
//! - `GET /sim/stats` → [`Stats`] (totals, and per provider under `by_provider`)
//! - `GET /sim/served` → [`crate::Served`] (CoinGecko USD texts, Binance last prices, CoinLore,
//!   CoinCap, Alchemy, Alpha Vantage exchange rates)
//! - `GET /sim/control` → the [`Faults`] in force
//! - `POST /sim/control` with a [`ControlRequest`] → the [`Faults`] now in force (400 if invalid);
//!   with `"provider":"binance"` (or `coingecko`, `etherscan`, `coinlore`, `coincap`, `alchemy`,
//!   `alphavantage`) the `latency_ms`, `error_rate`, `down` and `rate_limit_per_minute` fields
//!   change only that provider (and `calls_per_sec` and `calls_per_day` need one), e.g.
//!   `{"provider":"alphavantage","calls_per_day":25}` or
//!   `{"provider":"coingecko","down":true}`; without it they change the global faults that apply
//!   to every provider. The stream faults need a provider with a stream (`binance`, `coincap`):
//!   `{"provider":"binance","stream_silent":true}` (open connections stay open but send no data),
//!   `{"provider":"coincap","stream_malformed_rate":0.2}` (that share of data frames malformed),
//!   `{"provider":"binance","drop_streams":true}` (closes every open connection now, once).
//!   The market fields change the coin universe for every provider at once:
//!   `{"set_rank":{"id":"sim-coin-00500","rank":5}}` (that coin's supply is scaled so it ranks
//!   about 5th by market cap from now on; its price is unchanged), `{"unlist":"sim-coin-00042"}`
//!   and `{"relist":"sim-coin-00042"}` (a synthetic coin vanishes from, or is back in, every
//!   list, price and pair from now on, whatever the churn says; built-in coins cannot be
//!   unlisted), `{"advance_churn_epochs":1}` (the next churn epoch begins now; see
//!   [`crate::SimConfig::churn_epoch_secs`]). An unknown id, rank 0, unlisting a built-in coin or
//!   advancing epochs without churn is a 400 and changes nothing.
//! - `GET /sim/etherscan/ledger/{address}` → the sim's own totals of an address's ledger
//!   ([`crate::LedgerSummary`]), to compare an analysis with
//! - `GET /sim/arrivals?provider=etherscan` → [`crate::ArrivalLog`]: when each request of that
//!   provider arrived (unix microseconds), to check a limit at the upstream's side
//! - `POST /sim/reset` → 204; zeroes [`Stats`], the arrivals and the rate-limit windows. Like the
//!   faults and the price steps, the market's changes (`set_rank`, `unlist`/`relist`, churn
//!   epochs) are the state of the world, not counters, and are kept.

use std::sync::Arc;

use axum::extract::Query;
use axum::extract::State;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::state::{SimState, lock};
use crate::{Faults, Provider, SimError, Stats};

/// A change of faults: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    /// Which provider `latency_ms`, `error_rate` and `down` apply to (all of them when absent);
    /// required by `calls_per_sec`, `calls_per_day`, `throttle_once_secs` and the `stream_`
    /// fields and `drop_streams`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Requests per sliding minute: every provider's, or with `provider` that provider's own
    /// (the stricter of the two applies); 0 removes the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<bool>,
    /// Binance request weight per minute; 0 removes the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binance_weight_per_minute: Option<u32>,
    /// Etherscan calls per second; 0 removes the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etherscan_calls_per_sec: Option<u32>,
    /// With `provider`: that provider's requests per sliding second; 0 removes the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls_per_sec: Option<u32>,
    /// With `provider`: that provider's requests per sliding 24 hours
    /// ([`crate::ProviderFaults::calls_per_day`]); 0 removes the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls_per_day: Option<u32>,
    /// With `provider`: its next request gets its rate-limit answer with this `Retry-After`
    /// (seconds), once, whatever the limits say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_once_secs: Option<u64>,
    /// With a `provider` that has a stream: its connections send no data frames while `true`
    /// (they stay open and keep pinging); `false` resumes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_silent: Option<bool>,
    /// With a `provider` that has a stream: the fraction (0..=1) of its data frames replaced by
    /// malformed ones; 0 stops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_malformed_rate: Option<f64>,
    /// With a `provider` that has a stream, `true`: closes every stream connection of that
    /// provider open now (a Close frame, then the socket ends), once, as Binance does before
    /// maintenance. New connections are accepted as usual. Counted in
    /// [`crate::ProviderStats::streams_dropped`]; `false` does nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_streams: Option<bool>,
    /// Moves every price walk this many steps forward now (on top of time-driven steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance_steps: Option<u64>,
    /// Unlists a synthetic coin (by CoinGecko id) from now on: it vanishes from every provider,
    /// whatever the churn says. Applied before `relist`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlist: Option<String>,
    /// Lists a coin (by CoinGecko id) from now on, whatever the churn says; a no-op for a
    /// built-in coin, which is always listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relist: Option<String>,
    /// Begins this many churn epochs now (on top of those time brings): a new set of synthetic
    /// coins is unlisted. Needs [`crate::SimConfig::churn_epoch_secs`] > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance_churn_epochs: Option<u64>,
    /// Puts a coin at about a market-cap rank, applied last (after the listing and step
    /// changes of the same request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_rank: Option<SetRank>,
}

/// `{"id":"sim-coin-00500","rank":5}`: from now on the coin's supply is scaled so that its
/// market cap falls between those now ranked `rank - 1` and `rank` among the other listed coins
/// (past the end: last). Its price does not change; as the others walk it may drift a place or
/// two. A later `set_rank` of the same coin replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRank {
    /// The coin's CoinGecko id.
    pub id: String,
    /// 1 for the top.
    pub rank: u64,
}

impl ControlRequest {
    pub(crate) fn apply_to(&self, mut faults: Faults) -> Result<Faults, SimError> {
        if let Some(weight) = self.binance_weight_per_minute {
            faults.binance_weight_per_minute = weight;
        }
        if let Some(calls) = self.etherscan_calls_per_sec {
            faults.etherscan_calls_per_sec = calls;
        }
        if self.provider.is_none() {
            if self.calls_per_sec.is_some() {
                return Err(SimError::ProviderOnly("calls_per_sec"));
            }
            if self.calls_per_day.is_some() {
                return Err(SimError::ProviderOnly("calls_per_day"));
            }
            if self.throttle_once_secs.is_some() {
                return Err(SimError::ProviderOnly("throttle_once_secs"));
            }
            if self.stream_silent.is_some() {
                return Err(SimError::ProviderOnly("stream_silent"));
            }
            if self.stream_malformed_rate.is_some() {
                return Err(SimError::ProviderOnly("stream_malformed_rate"));
            }
            if self.drop_streams.is_some() {
                return Err(SimError::ProviderOnly("drop_streams"));
            }
        }
        if let (Some(provider), Some(_)) = (self.provider, self.drop_streams)
            && !provider.has_stream()
        {
            return Err(SimError::NoStream(provider));
        }
        match self.provider {
            Some(provider) => {
                let own = faults.provider_mut(provider);
                own.calls_per_sec = self.calls_per_sec.unwrap_or(own.calls_per_sec);
                own.calls_per_day = self.calls_per_day.unwrap_or(own.calls_per_day);
                own.rate_limit_per_minute = self
                    .rate_limit_per_minute
                    .unwrap_or(own.rate_limit_per_minute);
                own.latency_ms = self.latency_ms.unwrap_or(own.latency_ms);
                own.error_rate = self.error_rate.unwrap_or(own.error_rate);
                own.down = self.down.unwrap_or(own.down);
                own.stream_silent = self.stream_silent.unwrap_or(own.stream_silent);
                own.stream_malformed_rate = self
                    .stream_malformed_rate
                    .unwrap_or(own.stream_malformed_rate);
            }
            None => {
                faults.latency_ms = self.latency_ms.unwrap_or(faults.latency_ms);
                faults.rate_limit_per_minute = self
                    .rate_limit_per_minute
                    .unwrap_or(faults.rate_limit_per_minute);
                faults.error_rate = self.error_rate.unwrap_or(faults.error_rate);
                faults.down = self.down.unwrap_or(faults.down);
            }
        }
        faults.validate()
    }
}

pub(crate) fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route("/sim/stats", get(stats))
        .route("/sim/served", get(served))
        .route("/sim/arrivals", get(arrivals))
        .route("/sim/control", get(current).post(change))
        .route("/sim/reset", post(reset))
}

async fn stats(State(state): State<Arc<SimState>>) -> Json<Stats> {
    Json(lock(&state.stats).clone())
}

async fn served(State(state): State<Arc<SimState>>) -> Response {
    Json(&*lock(&state.served)).into_response()
}

#[derive(Debug, Deserialize)]
struct ArrivalsQuery {
    provider: Provider,
}

async fn arrivals(
    State(state): State<Arc<SimState>>,
    query: Result<Query<ArrivalsQuery>, QueryRejection>,
) -> Response {
    match query {
        Ok(Query(ArrivalsQuery { provider })) => Json(crate::ArrivalLog {
            provider,
            arrivals_us: lock(&state.arrivals).of(provider),
        })
        .into_response(),
        Err(rejection) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": rejection.body_text() })),
        )
            .into_response(),
    }
}

async fn current(State(state): State<Arc<SimState>>) -> Json<Faults> {
    Json(*lock(&state.faults))
}

async fn change(
    State(state): State<Arc<SimState>>,
    body: Result<Json<ControlRequest>, JsonRejection>,
) -> Response {
    let applied = body
        .map_err(|rejection| rejection.body_text())
        .and_then(|Json(change)| state.control(&change).map_err(|e| e.to_string()));
    match applied {
        Ok(faults) => Json(faults).into_response(),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": message })),
        )
            .into_response(),
    }
}

async fn reset(State(state): State<Arc<SimState>>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}
