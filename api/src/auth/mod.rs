//! Who may call which route, in one place. Every route of the router is declared with an
//! [`Access`] in `routes::table`, and the router puts [`require`] on each one, so a route
//! cannot exist without saying who may call it.
//!
//! A caller presents `Authorization: Bearer <token>`: an API key ([`api_key`], stored as a
//! SHA-256 hash with its role) or, when `[api.auth.jwt]` is configured, a JWT ([`jwt`], pinned
//! algorithm, `exp` and `role` required). Roles are ordered `read` < `enqueue` < `admin`.
//!
//! - A route that needs no role ([`Access::Public`], and reads while `api.auth.public_reads`)
//!   does not look at the header at all.
//! - No bearer token: 401 `unauthorized` naming the role needed and how to make a key.
//! - A token that is neither a configured key nor a valid JWT: 401 `unauthorized`, "invalid or
//!   expired token", and nothing else (which check failed is logged at debug, never answered).
//! - A valid token whose role is too weak: 403 `forbidden` naming both roles.
//!
//! 401s carry `WWW-Authenticate: Bearer`.

mod access;
pub mod api_key;
mod bearer;
pub mod jwt;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, header},
    middleware::Next,
    response::Response,
};
use coinbeat_shared::settings::{ApiSettings, Role};

pub use access::Access;
pub use api_key::{ApiKey, KeyRing};
pub use jwt::{JwtConfigError, JwtVerifier};

use crate::{ApiError, AppState};

/// Everything needed to tell a caller's role, built once from the settings.
#[derive(Debug)]
pub struct Authenticator {
    keys: KeyRing,
    jwt: Option<JwtVerifier>,
    public_reads: bool,
}

/// Settings the API cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("api.keys[{0}].sha256 is not 64 hex digits")]
    BadKeyHash(usize),
    #[error(transparent)]
    Jwt(#[from] JwtConfigError),
}

impl Authenticator {
    pub fn new(api: &ApiSettings) -> Result<Self, AuthConfigError> {
        let keys = KeyRing::new(&api.keys).map_err(AuthConfigError::BadKeyHash)?;
        let jwt = api.auth.jwt.as_ref().map(JwtVerifier::new).transpose()?;
        Ok(Self {
            keys,
            jwt,
            public_reads: api.auth.public_reads,
        })
    }

    /// Lets the caller through to a route of `access`, or says why not.
    pub fn check(&self, access: Access, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(need) = access.required_role(self.public_reads) else {
            return Ok(());
        };
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer::token)
            .ok_or(ApiError::Unauthenticated { need })?;
        let have = self.role_of(token).ok_or(ApiError::InvalidToken)?;
        if have < need {
            return Err(ApiError::Forbidden { need, have });
        }
        Ok(())
    }

    /// The role a bearer token carries, if it is a configured API key or a valid JWT.
    fn role_of(&self, token: &str) -> Option<Role> {
        match &self.jwt {
            Some(jwt) if jwt::looks_like_jwt(token) => jwt.role_of(token),
            _ => self.keys.role_of(token),
        }
    }
}

/// The check [`require`] runs for one route: the state and the route's [`Access`].
#[derive(Debug, Clone)]
pub struct Gate {
    pub state: AppState,
    pub access: Access,
}

/// Middleware on every route (see the module doc).
pub async fn require(
    State(gate): State<Gate>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    gate.state
        .authenticator()
        .check(gate.access, request.headers())?;
    Ok(next.run(request).await)
}
