//! `GET /v1/admin/cache/stats` (admin): per kind (prices, histories, markets, wallets, health,
//! queues) the keys and memory in Redis and the oldest record, plus this API process's cache
//! read hits and misses since it started (counted in-process, see [`crate::cache_reads`]).

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use coinbeat_shared::cache::{KINDS, cache_stats};
use serde_json::{Map, Value, json};

use super::at_ms;
use crate::{ApiError, AppState, cache_reads::Kind};

pub async fn stats(State(state): State<AppState>) -> Result<Response, ApiError> {
    let stats = state.redis(cache_stats(state.conn(), state.keys())).await?;
    let mut kinds = Map::new();
    for kind in KINDS {
        let s = &stats[kind];
        kinds.insert(
            kind.to_owned(),
            json!({
                "keys": s.keys,
                "memory_bytes": s.memory_bytes,
                "oldest_fetched_at": at_ms(s.oldest_fetched_at_ms),
            }),
        );
    }
    let reads: Map<String, Value> = Kind::ALL
        .into_iter()
        .map(|k| {
            let c = state.cache_reads().get(k);
            (
                k.as_str().to_owned(),
                json!({ "hits": c.hits, "misses": c.misses }),
            )
        })
        .collect();
    Ok(Json(json!({
        "kinds": kinds,
        "reads": reads,
        "reads_scope": "this API process since it started",
    }))
    .into_response())
}
