//! How Binance answers: JSON with `X-MBX-USED-WEIGHT-1M` on every response, errors as
//! `{"code":-NNNN,"msg":"..."}`, and 429 with `Retry-After` past the weight limit.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const JSON_UTF8: &str = "application/json;charset=UTF-8";
pub(super) const USED_WEIGHT: HeaderName = HeaderName::from_static("x-mbx-used-weight-1m");

/// -1121.
pub(super) const INVALID_SYMBOL: (i32, &str) = (-1121, "Invalid symbol.");
/// -1128: `symbol` and `symbols` together.
pub(super) const BAD_COMBINATION: (i32, &str) =
    (-1128, "Combination of optional parameters invalid.");
/// -1100: `symbols` that is not a JSON array of symbols.
pub(super) const ILLEGAL_SYMBOLS: (i32, &str) = (
    -1100,
    r#"Illegal characters found in parameter 'symbols'; legal range is '^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$'."#,
);
/// -1001: what a 5xx says.
const INTERNAL: (i32, &str) = (
    -1001,
    "Internal error; unable to process your request. Please try again.",
);

/// 200 with a JSON body and the weight used in the current minute.
pub(super) fn ok(body: String, used_weight: u64) -> Response {
    with_weight(
        ([(header::CONTENT_TYPE, JSON_UTF8)], body).into_response(),
        used_weight,
    )
}

/// 400 `{"code":..,"msg":".."}`.
pub(super) fn bad_request((code, msg): (i32, &str), used_weight: u64) -> Response {
    error(StatusCode::BAD_REQUEST, code, msg, used_weight)
}

/// 429 -1003 with `Retry-After` in seconds.
pub(super) fn too_much_weight(limit: u32, retry_after_secs: u64, used_weight: u64) -> Response {
    let msg = format!(
        "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
    );
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, -1003, &msg, used_weight);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

pub(super) fn unavailable(used_weight: u64) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        INTERNAL.0,
        INTERNAL.1,
        used_weight,
    )
}

fn error(status: StatusCode, code: i32, msg: &str, used_weight: u64) -> Response {
    let body = serde_json::json!({ "code": code, "msg": msg }).to_string();
    let response = (status, [(header::CONTENT_TYPE, JSON_UTF8)], body).into_response();
    with_weight(response, used_weight)
}

fn with_weight(mut response: Response, used_weight: u64) -> Response {
    response
        .headers_mut()
        .insert(USED_WEIGHT, HeaderValue::from(used_weight));
    response
}
