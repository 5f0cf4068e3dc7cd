//! Reading `Authorization: Bearer <token>`.

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
pub(crate) fn token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_header_with_a_token_is_read() {
        assert_eq!(token("Bearer s3cret"), Some("s3cret"));
        assert_eq!(token("bearer  s3cret "), Some("s3cret"));
        assert_eq!(token("Basic czNjcmV0"), None);
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("s3cret"), None);
    }
}
