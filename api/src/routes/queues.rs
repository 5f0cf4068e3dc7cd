//! `GET /v1/queues`: a snapshot of every product queue, and which Redis holds it.

use axum::{
    Extension, Json,
    extract::State,
    response::{IntoResponse, Response},
};
use coinbeat_shared::queue::{QueueStats, queue_stats};
use futures::future::try_join_all;
use serde::Serialize;

use crate::{ApiError, AppState, auth::Caller};

/// `GET /v1/queues`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuesResponse {
    queues: Vec<QueueView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct QueueView {
    #[serde(flatten)]
    stats: QueueStats,
    /// `"default"`: the deployment's Redis (`redis.url`); otherwise the queue's own Redis
    /// (`queues.overrides.<queue>.redis_url`), as its URL without the password, or `"own"` for
    /// a caller without a token (the hosts of a deployment are not for anonymous eyes).
    redis: String,
}

/// `GET /v1/queues`: `{"queues": [QueueStats + "redis", ...]}` in the order of `Queue::ALL`.
/// The snapshots are requested together, so those on one Redis share its round trips.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let snapshots = state.queues().iter().map(|(_, name, settings)| {
        let (conn, keys) = (state.queue_conn(name), state.keys());
        async move { queue_stats(&conn, keys, name, settings).await }
    });
    let stats = state.redis(try_join_all(snapshots)).await?;
    let queues = stats
        .into_iter()
        .map(|stats| {
            let redis = match state.queue_redis().own_redis(&stats.queue) {
                None => "default".to_owned(),
                Some(_) if !caller.is_known() => "own".to_owned(),
                Some(label) => label.to_owned(),
            };
            QueueView { stats, redis }
        })
        .collect();
    Ok(Json(QueuesResponse { queues }).into_response())
}
