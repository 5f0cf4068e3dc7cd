//! Request ids: a caller's `x-request-id` is kept, any other request gets a new ULID; the id is
//! echoed on the response and recorded in the request's trace span, so one line of a user's bug
//! report finds every log line of that request.

use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header that carries the id, both ways.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-sent id that is kept; a longer one is replaced (it would only bloat logs).
const MAX_LEN: usize = 128;

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

/// The id `request` carries, when it is one we keep: printable, at most 128 bytes.
pub fn of<B>(request: &Request<B>) -> Option<&str> {
    request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= MAX_LEN)
}

/// Drops a caller's id that [`of`] would not keep, so [`MakeUlid`] replaces it.
pub fn sanitize<B>(mut request: Request<B>) -> Request<B> {
    if request.headers().contains_key(&X_REQUEST_ID) && of(&request).is_none() {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}
