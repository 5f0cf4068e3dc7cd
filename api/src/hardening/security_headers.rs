//! Headers every response carries: the API serves JSON only, so browsers are told not to sniff
//! types, not to frame it, not to leak the URL as a referrer, and to load nothing from it.

use axum::http::{HeaderName, HeaderValue, Response, header};

/// (header, value) pairs set on every response that does not set the header itself.
pub fn all() -> [(HeaderName, HeaderValue); 4] {
    [
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ),
    ]
}

/// Sets each of [`all`] on `response` unless it set the header itself.
pub fn add<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers_mut();
    for (name, value) in all() {
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    }
    response
}
