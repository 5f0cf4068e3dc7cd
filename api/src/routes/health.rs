//! Liveness and readiness: `/healthz` answers while the process runs, `/readyz` only while
//! Redis answers.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};

use crate::{ApiError, AppState};

const OK: &str = r#"{"status":"ok"}"#;

/// What both probes answer: `{"status": "ok"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Liveness {
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
}

/// `GET /healthz`: 200 `{"status":"ok"}` whenever the process can answer at all.
pub async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OK).into_response()
}

/// `GET /readyz`: 200 `{"status":"ok"}` when Redis answers PING within the Redis timeout,
/// else 503 `redis_unavailable`.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut conn = state.conn().clone();
    state
        .redis(redis::cmd("PING").query_async::<String>(&mut conn))
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], OK).into_response())
}
