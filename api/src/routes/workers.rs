//! `GET /v1/workers`: every worker incarnation registered on every product queue. A caller
//! without a token (where `api.auth.public_status` opens this route) is not told names, hosts
//! or pids: on Kubernetes those are pod names.

use axum::{
    Extension, Json,
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::queue::list_workers;
use futures::future::try_join_all;
use serde::Serialize;

use super::at_ms;
use crate::{ApiError, AppState, auth::Caller};

/// `GET /v1/workers`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkersResponse {
    workers: Vec<WorkerView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WorkerView {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    queue: String,
    host: Option<String>,
    pid: Option<u32>,
    started_at: Option<DateTime<Utc>>,
    last_heartbeat: Option<DateTime<Utc>>,
    /// Tasks it holds (running or fetched).
    in_flight: u64,
    /// Heartbeat within the queue's orphan window.
    live: bool,
}

/// `{"workers": [...]}`, queue by queue in `Queue::ALL` order.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let known = caller.is_known();
    let reads = state.queues().iter().map(|(_, name, settings)| {
        let (conn, keys) = (state.queue_conn(name), state.keys());
        async move { list_workers(&conn, keys, name, settings).await }
    });
    let workers: Vec<WorkerView> = state
        .redis(try_join_all(reads))
        .await?
        .into_iter()
        .flatten()
        .map(|w| WorkerView {
            name: known.then_some(w.name),
            queue: w.queue.to_string(),
            host: w.host.filter(|_| known),
            pid: w.pid.filter(|_| known),
            started_at: at_ms(w.started_at),
            last_heartbeat: at_ms(Some(w.last_heartbeat)),
            in_flight: w.in_flight,
            live: w.live,
        })
        .collect();
    Ok(Json(WorkersResponse { workers }).into_response())
}
