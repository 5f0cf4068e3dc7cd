//! How Etherscan answers: HTTP 200 with a `{"status","message","result"}` envelope whose numbers
//! are all strings, even for errors and rate limits; only outages are real HTTP errors.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

const JSON_UTF8: &str = "application/json; charset=utf-8";

pub(crate) const NO_TRANSACTIONS: &str = "No transactions found";
pub(crate) const INVALID_KEY: &str = "Missing/Invalid API Key";
pub(crate) const MISSING_CHAINID: &str = "Missing or unsupported chainid parameter (required for v2 api), please see https://api.etherscan.io/v2/chainlist for the list of supported chainids";
pub(crate) const DEPRECATED_V1: &str =
    "You are using a deprecated V1 endpoint, switch to Etherscan API V2.";
pub(crate) const INVALID_MODULE: &str = "Error! Missing Or invalid Module name";
pub(crate) const INVALID_ACTION: &str = "Error! Missing Or invalid Action name";
pub(crate) const INVALID_ADDRESS: &str = "Error! Invalid address format";
pub(crate) const INVALID_PARAMETER: &str = "Error! Invalid parameter";
pub(crate) const WINDOW_TOO_LARGE: &str =
    "Result window is too large, PageNo x Offset size must be less than or equal to 10000";
/// The per-minute limit of `/sim/control` (Etherscan's daily limit has no simulated twin).
pub(crate) const MAX_RATE: &str = "Max rate limit reached";

/// What a 5xx looks like: the HTML page of the proxy in front of Etherscan, not JSON.
const UNAVAILABLE: &str = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n";

#[derive(Debug, Serialize)]
struct Envelope<'a, T> {
    status: &'a str,
    message: &'a str,
    result: T,
}

/// `{"status":"1","message":"OK","result":...}`.
pub(crate) fn ok<T: Serialize>(result: T) -> Response {
    envelope("1", "OK", result)
}

/// `{"status":"0","message":"No transactions found","result":[]}`: empty is not an error, but
/// its status is still `"0"`.
pub(crate) fn no_transactions() -> Response {
    envelope("0", NO_TRANSACTIONS, [(); 0])
}

/// `{"status":"0","message":"NOTOK","result":"<why>"}`, HTTP 200.
pub(crate) fn notok(why: &str) -> Response {
    envelope("0", "NOTOK", why)
}

/// The per-second limit's answer, naming the limit as Etherscan does: `(5/sec)`.
pub(crate) fn max_calls_per_sec(limit: u32) -> Response {
    notok(&format!(
        "Max calls per sec rate limit reached ({limit}/sec)"
    ))
}

pub(crate) fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html")],
        UNAVAILABLE,
    )
        .into_response()
}

fn envelope<T: Serialize>(status: &str, message: &str, result: T) -> Response {
    let body = serde_json::to_string(&Envelope {
        status,
        message,
        result,
    });
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, JSON_UTF8)], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
