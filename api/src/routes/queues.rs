//! `GET /v1/queues`: a snapshot of every product queue.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use coinbeat_shared::queue::{QueueStats, queue_stats};
use futures::future::try_join_all;
use serde::Serialize;

use crate::{ApiError, AppState};

#[derive(Serialize)]
struct QueuesResponse {
    queues: Vec<QueueStats>,
}

/// `GET /v1/queues`: `{"queues": [QueueStats, ...]}` in the order of `Queue::ALL`. The five
/// snapshots are requested together, so they share the connection's round trips.
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let snapshots = state
        .queues()
        .iter()
        .map(|(_, name, settings)| queue_stats(state.conn(), state.keys(), name, settings));
    let queues = state.redis(try_join_all(snapshots)).await?;
    Ok(Json(QueuesResponse { queues }).into_response())
}
