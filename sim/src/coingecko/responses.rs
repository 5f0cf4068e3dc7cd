//! How CoinGecko answers: the headers of a success and the exact bodies of its refusals.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const JSON_UTF8: &str = "application/json; charset=utf-8";
/// CoinGecko caches `/simple/price` for about 20 s on paid plans (more on the demo plan).
const CACHE_CONTROL: &str = "public, max-age=20";

const RATE_LIMITED: &str = r#"{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits."}}"#;
const KEY_MISSING: &str = r#"{"status":{"error_code":10002,"error_message":"API Key Missing"}}"#;
const UNAVAILABLE: &str = r#"{"status":{"error_code":503,"error_message":"The service is temporarily unavailable. Please try again later."}}"#;

/// 200 with a JSON body.
pub(super) fn ok(body: String) -> Response {
    let headers = [
        (header::CONTENT_TYPE, JSON_UTF8),
        (header::CACHE_CONTROL, CACHE_CONTROL),
    ];
    (headers, body).into_response()
}

/// 400 `{"error":"..."}`, e.g. `Missing parameter ids`.
pub(super) fn bad_request(message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, JSON_UTF8)],
        body,
    )
        .into_response()
}

/// 429 exactly as captured from CoinGecko: plain `application/json` and a `retry-after`.
pub(super) fn rate_limited(retry_after_secs: u64) -> Response {
    let mut response = status_body(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// 404 for an unknown or unlisted coin id.
pub(super) fn coin_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"coin not found"}"#,
    )
        .into_response()
}

pub(super) fn key_missing() -> Response {
    status_body(StatusCode::UNAUTHORIZED, KEY_MISSING)
}

pub(super) fn unavailable() -> Response {
    status_body(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
}

pub(super) fn internal_error() -> Response {
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn status_body(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
