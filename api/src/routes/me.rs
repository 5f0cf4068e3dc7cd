//! `GET /v1/me`: what the presented credential may do here, so a client (the dashboard) offers
//! only what the API would allow. Public: without a token it answers what anyone may do; an
//! invalid token is refused (401), so a sign-in form learns the key was wrong.

use axum::{Extension, Json, extract::State, http::HeaderMap};
use coinbeat_shared::settings::{Role, StatusRead};
use serde::Serialize;

use crate::{
    ApiError, AppState,
    auth::{Access, Caller, Presented},
};

/// `GET /v1/me`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// The credential's role; `null` without one.
    #[schema(value_type = Option<String>, example = "read")]
    role: Option<Role>,
    /// Which credential (`key:<12 hex digits of its SHA-256>` or `jwt:<sub>`), never the
    /// credential itself; `null` without one.
    caller: Option<String>,
    /// What the caller may do.
    may: May,
}

/// Each class of route, and whether this caller may call it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct May {
    /// Prices, markets, coins, wallet analyses, the streams.
    market_reads: bool,
    /// `GET /v1/queues`.
    queues: bool,
    /// `GET /v1/workers`.
    workers: bool,
    /// `GET /v1/schedules` and a schedule's runs.
    schedules: bool,
    /// `GET /v1/health`, `GET /v1/rate-limits`.
    health: bool,
    /// `GET /v1/tasks/{id}`.
    tasks: bool,
    /// `GET /metrics`.
    metrics: bool,
    /// `POST /v1/tasks` and every other route that enqueues work.
    enqueue: bool,
    /// `/v1/admin/...`: dead letters, purge, pausing schedules and queues, symbols, wallets.
    admin: bool,
}

/// `GET /v1/me`.
pub async fn me(
    State(state): State<AppState>,
    checked: Option<Extension<Presented>>,
    headers: HeaderMap,
) -> Result<Json<Me>, ApiError> {
    let authenticator = state.authenticator();
    let presented = match checked {
        Some(Extension(presented)) => presented,
        None => authenticator.present(&headers),
    };
    let caller = match &presented {
        Presented::Invalid => return Err(ApiError::InvalidToken),
        Presented::Valid(caller) => caller.clone(),
        Presented::Nothing => Caller::default(),
    };
    let may = |access| authenticator.check(access, &presented).is_ok();
    let status = |read| may(Access::Status(read));
    Ok(Json(Me {
        role: caller.role,
        caller: caller.id,
        may: May {
            market_reads: may(Access::Read),
            queues: status(StatusRead::Queues),
            workers: status(StatusRead::Workers),
            schedules: status(StatusRead::Schedules),
            health: status(StatusRead::Health),
            tasks: status(StatusRead::Tasks),
            metrics: status(StatusRead::Metrics),
            enqueue: may(Access::Enqueue),
            admin: may(Access::Admin),
        },
    }))
}
