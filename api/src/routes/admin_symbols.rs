//! `GET`, `POST /v1/admin/symbols` and `DELETE /v1/admin/symbols/{symbol}` (admin): the tracked
//! set, stored in Redis as an override of `prices.tracked` (`coinbeat_shared::tracked_symbols`),
//! which the price worker (every job without a symbol list, the beat's included) and
//! `GET /v1/prices` honour. A symbol the price providers cannot map (not in `prices.coins` or
//! the built-in coin table) is refused with 422 `unmappable_symbol` and the reason.

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use coinbeat_shared::{
    domain::Symbol,
    tracked_symbols::{self, TrackedError},
};
use serde::Deserialize;
use serde_json::json;

use crate::{ApiError, AppState, JsonBody};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSymbol {
    symbol: String,
}

async fn view(
    state: &AppState,
    status: StatusCode,
    changed: Option<bool>,
) -> Result<Response, ApiError> {
    state.forget_tracked_symbols();
    let tracked = state.tracked_symbols().await?;
    let overridden = state
        .redis(tracked_symbols::is_overridden(state.conn(), state.keys()))
        .await?;
    let mut body = json!({
        "tracked": *tracked,
        "source": if overridden { "redis" } else { "settings" },
    });
    if let Some(changed) = changed {
        body["changed"] = json!(changed);
    }
    Ok((status, Json(body)).into_response())
}

/// `{"tracked": [...], "source": "redis" | "settings"}`.
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    view(&state, StatusCode::OK, None).await
}

/// `{"symbol": "PEPE"}`: 201 when added, 200 when it was tracked already.
pub async fn add(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<AddSymbol>,
) -> Result<Response, ApiError> {
    let symbol = Symbol::parse(&request.symbol)?;
    let (added, _) = state
        .redis(tracked_symbols::add(
            state.conn(),
            state.keys(),
            &state.settings().prices,
            &symbol,
        ))
        .await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    view(&state, status, Some(added)).await
}

/// 200 with the set; 404 `symbol_not_tracked` when it was not tracked.
pub async fn remove(
    State(state): State<AppState>,
    symbol: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = symbol.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let symbol = Symbol::parse(&raw)?;
    let (removed, _) = state
        .redis(tracked_symbols::remove(
            state.conn(),
            state.keys(),
            &state.settings().prices,
            &symbol,
        ))
        .await?;
    if !removed {
        return Err(ApiError::SymbolNotTracked(symbol));
    }
    view(&state, StatusCode::OK, Some(true)).await
}

impl From<TrackedError> for ApiError {
    fn from(e: TrackedError) -> Self {
        match e {
            TrackedError::Redis(e) => e.into(),
            TrackedError::Unmappable(symbol) => ApiError::UnmappableSymbol(symbol),
        }
    }
}
