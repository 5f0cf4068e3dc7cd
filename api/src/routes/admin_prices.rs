//! `POST /v1/admin/prices/refresh` (admin): enqueue a price job now, for the tracked set or the
//! symbols given, whether or not the cached prices are fresh.

use axum::{Extension, body::Bytes, extract::State, response::Response};
use coinbeat_shared::{domain::Symbol, jobs::Queue, queue::EnqueueOptions};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ApiError, AppState,
    auth::Caller,
    on_demand::{self, Outcome},
};

/// The optional body: `{"symbols": ["BTC", "ETH"]}`; none (or `{}`) means the tracked set.
/// The body of `POST /v1/admin/prices/refresh` (optional: none refreshes the tracked set).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The symbols to refresh (1 to 1000, as `POST /v1/tasks` takes); absent or `null`: the
    /// tracked set.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Symbol>>, min_items = 1, max_items = 1000)]
    symbols: Option<Vec<String>>,
}

/// 202 with the task (200 with `"deduplicated": true` when an identical price job is still
/// waiting or running); 422 for bad or unmappable symbols.
pub async fn refresh(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: RefreshRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshRequest::default()
    } else {
        let request =
            serde_json::from_slice(&body).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
        if !crate::json::is_object(&body) {
            return Err(crate::json::not_an_object());
        }
        request
    };
    let args = match request.symbols {
        Some(symbols) => json!({ "symbols": symbols }),
        None => json!({}),
    };
    match on_demand::request(
        &state,
        &caller,
        Queue::Prices,
        &args,
        true,
        EnqueueOptions::default(),
    )
    .await?
    {
        Outcome::Task(task) => Ok(task.respond(&task)),
        Outcome::Fresh(_) => unreachable!("forced requests are never answered from the cache"),
    }
}
