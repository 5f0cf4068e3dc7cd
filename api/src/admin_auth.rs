//! The guard of the admin routes (`/v1/admin/...`), in one place: the router puts every admin
//! route behind [`require_admin`].
//!
//! - `api.admin_token` not set: 403 `admin_disabled`, naming the setting. Admin routes are off
//!   unless an operator turns them on.
//! - No `Authorization: Bearer <token>` header, or another token: 401 `unauthorized` with
//!   `WWW-Authenticate: Bearer`.
//!
//! The token is compared in constant time (in its content; its length may show), so the answer
//! time does not tell how much of a guess was right. Roles come later; this is one shared token.

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::Response,
};

use crate::{ApiError, AppState};

/// Middleware: lets the request through only with the configured admin token.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(token) = &state.settings().api.admin_token else {
        return Err(ApiError::AdminDisabled);
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), token.expose().as_bytes()) => {
            Ok(next.run(request).await)
        }
        _ => Err(ApiError::Unauthorized),
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether `a == b`, looking at every byte whatever the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_header_with_a_token_is_read() {
        assert_eq!(bearer("Bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer("bearer  s3cret "), Some("s3cret"));
        assert_eq!(bearer("Basic czNjcmV0"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("s3cret"), None);
    }

    #[test]
    fn tokens_are_equal_only_when_every_byte_is() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cret!"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
