//! The dashboard: a web UI at `/ui` over the API's own routes, shipped inside the binary.
//!
//! It is plain HTML, CSS and JavaScript modules (no build step, no framework, no CDN): each
//! page is a module in `assets/pages/` that reads the same JSON routes any client reads, with
//! the caller's token, and offers only what `GET /v1/me` says the caller may do. Every asset is
//! served with a same-origin content security policy, so a page can load and fetch nothing
//! from another origin, and the pages build their DOM from text (never from HTML strings), so
//! a task's payload or error cannot inject markup.

use axum::{
    extract::Path,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::ApiError;

/// The page may load its own scripts, styles and images and talk to its own origin, nothing
/// else; no inline script or style, no framing, no form posts elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// (name under `/ui/`, content type, body) of every asset but the page itself.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", CSS, include_str!("assets/app.css")),
    ("app.js", JS, include_str!("assets/app.js")),
    ("api.js", JS, include_str!("assets/api.js")),
    ("dom.js", JS, include_str!("assets/dom.js")),
    ("chart.js", JS, include_str!("assets/chart.js")),
    ("overview.js", JS, include_str!("assets/pages/overview.js")),
    ("queue.js", JS, include_str!("assets/pages/queue.js")),
    ("task.js", JS, include_str!("assets/pages/task.js")),
    ("search.js", JS, include_str!("assets/pages/search.js")),
    ("dead.js", JS, include_str!("assets/pages/dead.js")),
    (
        "schedules.js",
        JS,
        include_str!("assets/pages/schedules.js"),
    ),
    ("workers.js", JS, include_str!("assets/pages/workers.js")),
    (
        "upstreams.js",
        JS,
        include_str!("assets/pages/upstreams.js"),
    ),
    ("prices.js", JS, include_str!("assets/pages/prices.js")),
    ("wallets.js", JS, include_str!("assets/pages/wallets.js")),
];

const PAGE: &str = include_str!("assets/index.html");
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            // The assets change with the binary; a browser revalidates rather than keeping an
            // old script beside a new page.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// `GET /ui`: the page.
pub async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// `GET /ui/{asset}`: a script or style sheet of the page; 404 for any other name.
pub async fn file(Path(name): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(asset_name, ..)| *asset_name == name)
        .map(|(_, content_type, body)| asset(content_type, body))
        .ok_or(ApiError::RouteNotFound {
            method: axum::http::Method::GET,
            path: format!("/ui/{name}"),
        })
}

/// The names of the assets, for tests.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(name, ..)| *name)
}
