//! `GET /api/v3/ping`: Binance's connectivity check, an empty object (weight 1).

use axum::http::header;
use axum::response::IntoResponse;

pub(crate) async fn ping() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        "{}",
    )
}
