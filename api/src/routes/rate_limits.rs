//! `GET /v1/rate-limits`: each upstream's shared rate limiter read now, not by the health
//! worker: every window's permits in use against its limit, the callers waiting for a permit,
//! an upstream's push-back, and the counters since the limiter began. The dashboard's upstreams
//! page polls it. Limiters are named by their provider alone, as in `GET /v1/health`: the key
//! fingerprint in a limiter's id is for the operator's metrics.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use coinbeat_shared::ratelimit::{
    LimiterMetrics, Provider, RateSpec, WindowUsage, read_snapshot, read_usage,
};
use futures::future::try_join_all;
use serde::Serialize;

use crate::{ApiError, AppState};

/// `GET /v1/rate-limits`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RateLimitsResponse {
    limiters: Vec<LimiterView>,
}

/// One provider's limiter at one instant of Redis's clock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LimiterView {
    provider: String,
    /// The configured limit, e.g. `3/s, 100000/day` (`off` for none).
    limit: String,
    /// Each window of the limit, shortest first: permits in use now against its limit.
    windows: Vec<WindowUsage>,
    /// Callers, in every worker process, waiting in the limiter's line for a permit.
    waiting: u64,
    /// Until when every call waits because the upstream pushed back (429); `null` when not
    /// blocked.
    blocked_until: Option<DateTime<Utc>>,
    /// Counters since the limiter's first grant.
    metrics: LimiterMetrics,
    /// Redis's clock when it was read.
    taken_at: DateTime<Utc>,
}

/// `{"limiters": [...]}`, one per provider, in a fixed order.
pub async fn list(State(state): State<AppState>) -> Result<Json<RateLimitsResponse>, ApiError> {
    let providers = &state.settings().providers;
    let reads = Provider::ALL.into_iter().map(|provider| {
        let id = providers.limiter_id(provider);
        // Settings were validated at start; a limit that does not parse reads as none.
        let spec = providers
            .rate_spec(provider)
            .unwrap_or_else(|_| RateSpec::unlimited());
        let (conn, keys) = (state.conn(), state.keys());
        async move {
            let (usage, snapshot) = tokio::try_join!(
                read_usage(conn, keys, &id, &spec),
                read_snapshot(conn, keys, &id)
            )?;
            Ok::<_, ApiError>(LimiterView {
                provider: provider.to_string(),
                limit: spec.to_string(),
                windows: usage.windows,
                waiting: usage.waiting,
                blocked_until: usage.blocked_until,
                metrics: snapshot.metrics,
                taken_at: usage.taken_at,
            })
        }
    });
    let limiters = state.redis(try_join_all(reads)).await?;
    Ok(Json(RateLimitsResponse { limiters }))
}
