//! `GET /v1/admin/cache/stats` (admin): per kind (prices, histories, markets, wallets, health,
//! queues) the keys and memory in Redis and the oldest record, plus this API process's cache
//! read hits and misses since it started (counted in-process, see [`crate::cache_reads`]).

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use coinbeat_shared::cache::{KINDS, cache_stats};
use serde::Serialize;

use super::at_ms;
use crate::{ApiError, AppState, cache_reads::Kind};

/// `GET /v1/admin/cache/stats`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    /// By kind: `prices`, `histories`, `markets`, `wallets`, `health`, `catalogue`, `queues`.
    kinds: BTreeMap<String, KindView>,
    /// This API process's cache reads, by kind.
    reads: BTreeMap<String, Reads>,
    /// What `reads` counts: `this API process since it started`.
    reads_scope: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct KindView {
    keys: u64,
    memory_bytes: u64,
    oldest_fetched_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Reads {
    hits: u64,
    misses: u64,
}

pub async fn stats(State(state): State<AppState>) -> Result<Response, ApiError> {
    let stats = state.redis(cache_stats(state.conn(), state.keys())).await?;
    let kinds = KINDS
        .into_iter()
        .map(|kind| {
            let s = &stats[kind];
            let view = KindView {
                keys: s.keys,
                memory_bytes: s.memory_bytes,
                oldest_fetched_at: at_ms(s.oldest_fetched_at_ms),
            };
            (kind.to_owned(), view)
        })
        .collect();
    let reads = Kind::ALL
        .into_iter()
        .map(|k| {
            let c = state.cache_reads().get(k);
            let reads = Reads {
                hits: c.hits,
                misses: c.misses,
            };
            (k.as_str().to_owned(), reads)
        })
        .collect();
    Ok(Json(CacheStats {
        kinds,
        reads,
        reads_scope: "this API process since it started",
    })
    .into_response())
}
