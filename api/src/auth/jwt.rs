//! JWTs from an identity provider: the one configured algorithm (HS256 with a secret, or RS256
//! with a public key), `exp` required, optional `iss`/`aud`, and a `role` claim.
//!
//! The algorithm is pinned: a token whose header names another one (`none` included, which
//! `jsonwebtoken` cannot even parse, or HS256 signed with an RS256 public key) is refused.

use coinbeat_shared::settings::{JwtAlgorithm, JwtSettings, Role};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

/// Checks JWTs against `[api.auth.jwt]`.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
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
}

/// The claims we read; `exp` (and `iss`/`aud` when configured) are checked by `jsonwebtoken`.
#[derive(Debug, Deserialize)]
struct Claims {
    role: Role,
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
        let mut required = vec!["exp"];
        match &settings.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &settings.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok(Self { key, validation })
    }

    /// The `role` of a valid token. Why a token failed is logged at debug level only: the
    /// caller hears "invalid or expired token" whatever it was.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        match decode::<Claims>(token, &self.key, &self.validation) {
            Ok(data) => Some(data.claims.role),
            Err(e) => {
                tracing::debug!(reason = ?e.kind(), "jwt refused");
                None
            }
        }
    }
}

/// Three dot-separated parts: read as a JWT, not as an API key.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}
