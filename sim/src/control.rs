//! The `/sim/` routes, outside every provider's namespace: observe what was asked and served, and
//! change faults at run time. They are never delayed, limited, failed or counted.
//!
//! - `GET /sim/stats` → [`Stats`]
//! - `GET /sim/served` → [`crate::Served`]
//! - `GET /sim/control` → the [`Faults`] in force
//! - `POST /sim/control` with a [`ControlRequest`] → the [`Faults`] now in force (400 if invalid)
//! - `POST /sim/reset` → 204; zeroes [`Stats`] and the rate-limit window

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::state::{SimState, lock};
use crate::{Faults, SimError, Stats};

/// A change of faults: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// 0 removes the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<bool>,
    /// Moves every price walk this many steps forward now (on top of time-driven steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance_steps: Option<u64>,
}

impl ControlRequest {
    pub(crate) fn apply_to(&self, faults: Faults) -> Result<Faults, SimError> {
        Faults {
            latency_ms: self.latency_ms.unwrap_or(faults.latency_ms),
            error_rate: self.error_rate.unwrap_or(faults.error_rate),
            rate_limit_per_minute: self
                .rate_limit_per_minute
                .unwrap_or(faults.rate_limit_per_minute),
            down: self.down.unwrap_or(faults.down),
        }
        .validate()
    }
}

pub(crate) fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route("/sim/stats", get(stats))
        .route("/sim/served", get(served))
        .route("/sim/control", get(current).post(change))
        .route("/sim/reset", post(reset))
}

async fn stats(State(state): State<Arc<SimState>>) -> Json<Stats> {
    Json(lock(&state.stats).clone())
}

async fn served(State(state): State<Arc<SimState>>) -> Response {
    Json(&*lock(&state.served)).into_response()
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
