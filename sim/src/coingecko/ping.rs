//! `GET /ping`: the liveness check.

use axum::response::Response;

use super::responses;

pub(super) async fn ping() -> Response {
    responses::ok(r#"{"gecko_says":"(V3) To the Moon!"}"#.to_owned())
}
