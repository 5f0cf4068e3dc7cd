//! JWTs from an identity provider: the one configured algorithm (HS256 with a secret, or RS256
//! with a public key), `exp` and `iat` required, `iss` and `aud` required and matched against
//! the settings, a lifetime (`exp - iat`) of at most `max_lifetime_secs`, and a `role` claim.
//!
//! The algorithm is pinned: a token whose header names another one (`none` included, which
//! `jsonwebtoken` cannot even parse, or HS256 signed with an RS256 public key) is refused.
//!
//! `iat` is required rather than guessed: without it the lifetime cannot be known, and a token
//! minted for a year would pass as long as its `exp` was ahead. An `iat` ahead of our clock
//! (beyond the leeway) is refused too, or a token "issued" next year with a one-hour lifetime
//! would be good until then.

use coinbeat_shared::settings::{JwtAlgorithm, JwtSettings, Role};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

/// Checks JWTs against `[api.auth.jwt]`.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    /// Longest `exp - iat` accepted, in seconds.
    max_lifetime_secs: u64,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

/// `[api.auth.jwt]` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error("api.auth.jwt.algorithm is HS256 but api.auth.jwt.secret is not set")]
    NoSecret,
    #[error("api.auth.jwt.algorithm is RS256 but api.auth.jwt.public_key_pem is not set")]
    NoPublicKey,
    #[error("api.auth.jwt.public_key_pem is not an RSA public key in PEM: {0}")]
    BadPublicKey(jsonwebtoken::errors::Error),
    #[error("api.auth.jwt.secret cannot be used: {0}")]
    BadSecret(jsonwebtoken::errors::Error),
    #[error("api.auth.jwt.issuer is not set: every token's `iss` must match it")]
    NoIssuer,
    #[error("api.auth.jwt.audience is not set: every token's `aud` must contain it")]
    NoAudience,
}

/// The claims we read; `exp`, `nbf`, `iss` and `aud` are checked by `jsonwebtoken`, the
/// lifetime here.
#[derive(Debug, Deserialize)]
struct Claims {
    role: Role,
    exp: u64,
    iat: u64,
    /// Who the token is for, when the identity provider says.
    #[serde(default)]
    sub: Option<String>,
}

impl JwtVerifier {
    pub fn new(settings: &JwtSettings) -> Result<Self, JwtConfigError> {
        let (key, algorithm) = match settings.algorithm {
            JwtAlgorithm::HS256 => {
                let secret = settings.secret.as_ref().ok_or(JwtConfigError::NoSecret)?;
                let key = DecodingKey::from_secret(secret.expose().as_bytes())
                    .map_err(JwtConfigError::BadSecret)?;
                (key, Algorithm::HS256)
            }
            JwtAlgorithm::RS256 => {
                let pem = settings
                    .public_key_pem
                    .as_deref()
                    .ok_or(JwtConfigError::NoPublicKey)?;
                let key = DecodingKey::from_rsa_pem(pem.trim().as_bytes())
                    .map_err(JwtConfigError::BadPublicKey)?;
                (key, Algorithm::RS256)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = settings.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let issuer = settings
            .issuer
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or(JwtConfigError::NoIssuer)?;
        let audience = settings
            .audience
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or(JwtConfigError::NoAudience)?;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.validate_aud = true;
        // `iat` is not a claim `jsonwebtoken` can require; `Claims` does.
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Ok(Self {
            key,
            validation,
            max_lifetime_secs: settings.max_lifetime_secs,
        })
    }

    /// The `role` of a valid token. Why a token failed is logged at debug level only: the
    /// caller hears "invalid or expired token" whatever it was.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        self.identify(token).map(|(role, _)| role)
    }

    /// The `role` and `sub` (if any) of a valid token.
    pub fn identify(&self, token: &str) -> Option<(Role, Option<String>)> {
        let claims = match decode::<Claims>(token, &self.key, &self.validation) {
            Ok(data) => data.claims,
            Err(e) => {
                tracing::debug!(reason = ?e.kind(), "jwt refused");
                return None;
            }
        };
        let now = jsonwebtoken::get_current_timestamp();
        if claims.iat > now.saturating_add(self.validation.leeway) {
            tracing::debug!(iat = claims.iat, now, "jwt refused: issued in the future");
            return None;
        }
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if lifetime > self.max_lifetime_secs {
            tracing::debug!(
                lifetime,
                max = self.max_lifetime_secs,
                "jwt refused: lifetime over api.auth.jwt.max_lifetime_secs"
            );
            return None;
        }
        Some((claims.role, claims.sub))
    }
}

/// Three dot-separated parts: read as a JWT, not as an API key.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

#[cfg(test)]
mod tests {
    use coinbeat_shared::settings::Secret;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &str = "a-unit-test-hs256-secret-of-32-bytes";
    const ISSUER: &str = "https://idp.example";
    const AUDIENCE: &str = "coinbeat";

    fn settings() -> JwtSettings {
        JwtSettings {
            secret: Some(Secret::new(SECRET)),
            issuer: Some(ISSUER.into()),
            audience: Some(AUDIENCE.into()),
            ..JwtSettings::default()
        }
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    /// A token the identity provider would issue now for ten minutes, with `changes` on top;
    /// a `null` in `changes` leaves that claim out.
    fn token(changes: Value) -> String {
        let mut claims = json!({
            "role": "admin",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now(),
            "exp": now() + 600,
        });
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => claims.as_object_mut().unwrap().remove(name),
                _ => claims
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), value.clone()),
            };
        }
        let key = EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
        encode(&Header::default(), &claims, &key).unwrap()
    }

    #[test]
    fn a_token_with_the_configured_issuer_and_audience_and_a_short_life_carries_its_role() {
        let verifier = JwtVerifier::new(&settings()).unwrap();
        assert_eq!(verifier.role_of(&token(json!({}))), Some(Role::Admin));
        // `aud` may be a list; it must contain ours.
        let listed = token(json!({"aud": ["other", AUDIENCE], "role": "read"}));
        assert_eq!(verifier.role_of(&listed), Some(Role::Read));
    }

    #[test]
    fn a_token_without_or_with_another_issuer_or_audience_is_refused() {
        let verifier = JwtVerifier::new(&settings()).unwrap();
        for (what, changes) in [
            ("no aud", json!({"aud": null})),
            ("wrong aud", json!({"aud": "other"})),
            ("no iss", json!({"iss": null})),
            ("wrong iss", json!({"iss": "https://evil.example"})),
        ] {
            assert_eq!(verifier.role_of(&token(changes)), None, "{what}");
        }
    }

    #[test]
    fn a_token_living_longer_than_the_cap_or_without_iat_or_issued_ahead_is_refused() {
        let verifier = JwtVerifier::new(&JwtSettings {
            max_lifetime_secs: 3_600,
            ..settings()
        })
        .unwrap();
        let at_cap = json!({"iat": now() - 60, "exp": now() - 60 + 3_600});
        assert_eq!(verifier.role_of(&token(at_cap)), Some(Role::Admin));
        for (what, changes) in [
            ("a day long", json!({"iat": now(), "exp": now() + 86_400})),
            (
                "one second over",
                json!({"iat": now() - 60, "exp": now() - 59 + 3_600}),
            ),
            ("no iat", json!({"iat": null})),
            (
                "iat ahead",
                json!({"iat": now() + 7 * 86_400, "exp": now() + 7 * 86_400 + 600}),
            ),
        ] {
            assert_eq!(verifier.role_of(&token(changes)), None, "{what}");
        }
    }

    #[test]
    fn a_verifier_without_an_issuer_or_an_audience_cannot_be_built() {
        let no_issuer = JwtSettings {
            issuer: None,
            ..settings()
        };
        assert!(matches!(
            JwtVerifier::new(&no_issuer),
            Err(JwtConfigError::NoIssuer)
        ));
        let blank_audience = JwtSettings {
            audience: Some(" ".into()),
            ..settings()
        };
        assert!(matches!(
            JwtVerifier::new(&blank_audience),
            Err(JwtConfigError::NoAudience)
        ));
    }
}
