//! Request ids: a caller's `x-request-id` is kept when it is 1 to 64 characters of
//! `[A-Za-z0-9._-]`, any other request gets a new ULID; the id is echoed on the response and
//! recorded in the request's trace span, so one line of a user's bug report finds every log line
//! of that request. The character set is what keeps the id one token in a log line: a space, a
//! quote or an `=` would let a caller forge fields in the pretty format.

use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header that carries the id, both ways.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-sent id that is kept; a longer one is replaced (it would only bloat logs).
/// Room for a UUID (36) or a W3C trace id (32) with a prefix.
const MAX_LEN: usize = 64;

/// Makes a new ULID for a request without a usable id of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeUlid;

impl MakeRequestId for MakeUlid {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&ulid::Ulid::generate().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// The id `request` carries, when it is one we keep (see [`is_kept`]).
pub fn of<B>(request: &Request<B>) -> Option<&str> {
    request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_kept(id))
}

/// Whether a caller's id is kept: 1 to 64 characters, each an ASCII letter, digit, `.`, `_`
/// or `-`.
pub fn is_kept(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Drops a caller's id that [`of`] would not keep, so [`MakeUlid`] replaces it.
pub fn sanitize<B>(mut request: Request<B>) -> Request<B> {
    if request.headers().contains_key(&X_REQUEST_ID) && of(&request).is_none() {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_1_to_64_letters_digits_dots_underscores_and_dashes_are_kept() {
        for kept in [
            "a",
            "trace-me-42",
            "0af7651916cd43dd8448eb211c80319c",
            "f47ac10b-58cc-4372-a567-0e02b2c3d479",
            "svc_a.req-1",
            &"x".repeat(64),
        ] {
            assert!(is_kept(kept), "{kept:?}");
        }
        for replaced in [
            "",
            &"x".repeat(65),
            "two words",
            r#"id" level=error msg="forged"#,
            "a=b",
            "tab\there",
            "caf\u{e9}",
            "semi;colon",
        ] {
            assert!(!is_kept(replaced), "{replaced:?}");
        }
    }
}
