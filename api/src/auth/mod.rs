//! Who may call which route, in one place. Every route of the router is declared with an
//! [`Access`] in `routes::table`, and the router puts [`require`] on each one, so a route
//! cannot exist without saying who may call it.
//!
//! A caller presents `Authorization: Bearer <token>`: an API key ([`api_key`], stored as a
//! SHA-256 hash with its role) or, when `[api.auth.jwt]` is configured, a JWT ([`jwt`], pinned
//! algorithm, `exp` and `role` required). Roles are ordered `read` < `enqueue` < `admin`.
//!
//! - A route that needs no role ([`Access::Public`], market reads while
//!   `api.auth.public_reads`, the operational reads `api.auth.public_status` names) lets
//!   everyone through; a valid token there still tells who the caller is (what an answer may
//!   show depends on it), an invalid one is treated as no token.
//! - No bearer token: 401 `unauthorized` naming the role needed and how to make a key.
//! - A token that is neither a configured key nor a valid JWT: 401 `unauthorized`, "invalid or
//!   expired token", and nothing else (which check failed is logged at debug, never answered).
//! - A valid token whose role is too weak: 403 `forbidden` naming both roles.
//!
//! 401s carry `WWW-Authenticate: Bearer`. Whoever passes is a [`Caller`] in the request's
//! extensions, for the handlers that show more to stronger roles and for the audit log.

mod access;
pub mod api_key;
mod bearer;
pub mod jwt;

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use axum::{
    extract::Request,
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use coinbeat_shared::settings::{ApiSettings, AuthSettings, Role};
use futures::future::{self, Either, Ready};
use pin_project_lite::pin_project;
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

pub use access::Access;
pub use api_key::{ApiKey, KeyRing};
pub use jwt::{JwtConfigError, JwtVerifier};

use crate::{ApiError, AppState};

/// Everything needed to tell a caller's role, built once from the settings.
#[derive(Debug)]
pub struct Authenticator {
    keys: KeyRing,
    jwt: Option<JwtVerifier>,
    auth: AuthSettings,
}

/// Who made a request that passed the gate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// The role of the caller's token; `None`: no (valid) token, on a route that needs none.
    pub role: Option<Role>,
    /// Which credential: `key:<first 12 hex digits of its SHA-256>`, or for a JWT
    /// `jwt:<sub>` (a `sub` of 1 to 64 of `[A-Za-z0-9._@:-]`; any other is hashed, as is a
    /// token without one: `jwt:#<first 12 hex digits of its SHA-256>`). Never the credential.
    pub id: Option<String>,
}

impl Caller {
    /// At least `role`.
    pub fn has(&self, role: Role) -> bool {
        self.role.is_some_and(|have| have >= role)
    }

    /// Has a valid token of any role.
    pub fn is_known(&self) -> bool {
        self.role.is_some()
    }
}

/// What a request's `Authorization` header presented, checked once per request (by the
/// per-client rate limit, which counts a valid caller apart from its address, or else by
/// [`require`]) and kept in its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// No bearer token.
    Nothing,
    /// A token that is neither a configured key nor a valid JWT.
    Invalid,
    /// A valid token: who it names.
    Valid(Caller),
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
            auth: api.auth.clone(),
        })
    }

    /// What a request's `Authorization` presents.
    pub fn present(&self, headers: &HeaderMap) -> Presented {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer::token);
        match token {
            None => Presented::Nothing,
            Some(token) => self
                .identify(token)
                .map_or(Presented::Invalid, Presented::Valid),
        }
    }

    /// Lets the caller through to a route of `access`, or says why not.
    pub fn check(&self, access: Access, presented: &Presented) -> Result<Caller, ApiError> {
        let Some(need) = access.required_role(&self.auth) else {
            return Ok(match presented {
                Presented::Valid(caller) => caller.clone(),
                Presented::Nothing | Presented::Invalid => Caller::default(),
            });
        };
        let caller = match presented {
            Presented::Nothing => return Err(ApiError::Unauthenticated { need }),
            Presented::Invalid => return Err(ApiError::InvalidToken),
            Presented::Valid(caller) => caller,
        };
        match caller.role {
            Some(have) if have < need => Err(ApiError::Forbidden { need, have }),
            _ => Ok(caller.clone()),
        }
    }

    /// Whether the credential an owner id (`Caller::id`) names can still call: for a key,
    /// whether it is configured; for a JWT subject, `None` (any new token may carry it).
    pub fn still_configured(&self, owner: &str) -> Option<bool> {
        owner.strip_prefix("key:").map(|hash| self.keys.holds(hash))
    }

    /// The caller a bearer token makes, if it is a configured API key or a valid JWT.
    fn identify(&self, token: &str) -> Option<Caller> {
        let (role, id) = match &self.jwt {
            Some(jwt) if jwt::looks_like_jwt(token) => {
                let (role, sub) = jwt.identify(token)?;
                (role, format!("jwt:{}", subject_id(sub.as_deref(), token)))
            }
            _ => {
                let (role, hash) = self.keys.identify(token)?;
                (role, format!("key:{hash}"))
            }
        };
        Some(Caller {
            role: Some(role),
            id: Some(id),
        })
    }
}

/// How a JWT's caller is named: its `sub` when that is short and plain (it goes into log lines
/// and Redis keys), else a hash of the `sub` or, without one, of the token.
fn subject_id(sub: Option<&str>, token: &str) -> String {
    let plain = |s: &str| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_@:".contains(&b))
    };
    match sub {
        Some(sub) if plain(sub) => sub.to_owned(),
        other => {
            let digest = Sha256::digest(other.unwrap_or(token).as_bytes());
            format!("#{}", api_key::hex(&digest[..6]))
        }
    }
}

/// The check [`require`] puts on one route: the state, the route's [`Access`], and its path
/// template (left on the response as a [`RouteTemplate`], for the request metrics).
#[derive(Debug, Clone)]
pub struct Gate {
    pub state: AppState,
    pub access: Access,
    pub path: &'static str,
}

/// The path template of the route that answered, in the response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteTemplate(pub &'static str);

/// The middleware on every route (see the module doc): [`Gate`] as a layer.
pub fn require(gate: Gate) -> GateLayer {
    GateLayer(gate)
}

/// [`require`]'s layer.
#[derive(Debug, Clone)]
pub struct GateLayer(Gate);

impl<S> Layer<S> for GateLayer {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            gate: self.0.clone(),
        }
    }
}

/// A route behind its gate. A plain service: no boxed future, no clone of the route per
/// request.
#[derive(Debug, Clone)]
pub struct Gated<S> {
    inner: S,
    gate: Gate,
}

impl<S> Service<Request> for Gated<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let authenticator = self.gate.state.authenticator();
        let checked = match request.extensions().get::<Presented>() {
            Some(presented) => authenticator.check(self.gate.access, presented),
            None => {
                authenticator.check(self.gate.access, &authenticator.present(request.headers()))
            }
        };
        let template = RouteTemplate(self.gate.path);
        // Every admin call, refused or not, leaves one audit line: who, what, and the outcome.
        let audit = (self.gate.access == Access::Admin).then(|| Audit {
            caller: match &checked {
                Ok(caller) => caller.clone(),
                Err(_) => Caller::default(),
            },
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
        });
        let answer = match checked {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                Either::Right(self.inner.call(request))
            }
            Err(refused) => Either::Left(future::ready(Ok(refused.into_response()))),
        };
        GateFuture {
            answer,
            template,
            audit,
        }
    }
}

/// What an admin call's audit line says.
#[derive(Debug)]
struct Audit {
    caller: Caller,
    method: Method,
    path: String,
}

pin_project! {
    /// [`Gated`]'s future: the route's answer, or the refusal; then the template and the audit
    /// line.
    pub struct GateFuture<F> {
        #[pin]
        answer: Either<Ready<Result<Response, Infallible>>, F>,
        template: RouteTemplate,
        audit: Option<Audit>,
    }
}

impl<F> Future for GateFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.answer.poll(cx));
        if let Some(Audit {
            caller,
            method,
            path,
        }) = this.audit.take()
        {
            audit(&caller, &method, &path, response.status());
        }
        response.extensions_mut().insert(*this.template);
        Poll::Ready(Ok(response))
    }
}

/// One line on the `audit` target for an admin call.
fn audit(caller: &Caller, method: &Method, path: &str, status: StatusCode) {
    tracing::info!(
        target: "audit",
        caller = caller.id.as_deref().unwrap_or("anonymous"),
        role = caller.role.map_or("none", Role::as_str),
        %method,
        path,
        status = status.as_u16(),
        outcome = if status.is_success() { "done" } else { "refused or failed" },
        "admin call"
    );
}

#[cfg(test)]
mod tests {
    use super::subject_id;

    #[test]
    fn a_jwt_caller_is_its_plain_sub_or_a_hash() {
        assert_eq!(subject_id(Some("svc-ingest@idp"), "t"), "svc-ingest@idp");
        let odd = subject_id(Some("a b\"c"), "t");
        assert!(odd.starts_with('#') && odd.len() == 13, "{odd}");
        assert_eq!(
            odd,
            subject_id(Some("a b\"c"), "another token"),
            "same sub, same id"
        );
        let none = subject_id(None, "token-1");
        assert_ne!(none, subject_id(None, "token-2"));
    }
}
