//! `GET /openapi.json` and the documentation page, `GET /docs` with its script and style sheet,
//! shipped inside the binary (no CDN, no network: it renders the document this API serves).

use std::sync::OnceLock;

use axum::{
    Json,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

const PAGE: &str = include_str!("assets/docs.html");
const SCRIPT: &str = include_str!("assets/docs.js");
const STYLE: &str = include_str!("assets/docs.css");

/// The page may load its own script and style and fetch the document, nothing else.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/// `GET /openapi.json`: built once from the route table.
pub async fn openapi() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(
        DOCUMENT
            .get_or_init(|| super::document(&crate::routes::endpoints()))
            .clone(),
    )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DOCS_CSP),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /docs`.
pub async fn page() -> Response {
    asset(PAGE, "text/html; charset=utf-8")
}

/// `GET /docs/docs.js`.
pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /docs/docs.css`.
pub async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}
