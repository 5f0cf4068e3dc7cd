//! `GET /openapi.json` and the documentation page, `GET /docs` with its script and style sheet,
//! shipped inside the binary (no CDN, no network: it renders the document this API serves).

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::Deployment;
use crate::AppState;

const PAGE: &str = include_str!("assets/docs.html");
const SCRIPT: &str = include_str!("assets/docs.js");
const STYLE: &str = include_str!("assets/docs.css");

/// The page may load its own script and style and fetch the document, nothing else.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/// `GET /openapi.json`: built from the route table and this API's settings (once per state).
pub async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(state.openapi_document(|settings| {
        let deployment = Deployment {
            tiers: settings
                .prices
                .tiers
                .iter()
                .filter(|(_, tier)| tier.enabled)
                .map(|(name, _)| name.clone())
                .collect(),
            max_portfolio_holdings: settings.api.max_portfolio_holdings,
        };
        super::document(&crate::routes::endpoints(), &deployment)
    }))
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
