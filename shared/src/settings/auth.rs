//! Who may call the API: the roles, the API keys (stored as SHA-256 hashes only), the optional
//! JWT verifier, and whether reads are public.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use super::Secret;

/// What a caller may do. Ordered: each role includes the ones before it
/// (`read` < `enqueue` < `admin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The read routes (when `api.auth.public_reads` is off).
    Read,
    /// Also every route that enqueues work.
    Enqueue,
    /// Also every `/v1/admin/...` route.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Read, Role::Enqueue, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Enqueue => "enqueue",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not `read`, `enqueue` or `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected read, enqueue or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// One API key as the settings hold it: its role and the SHA-256 of the key (64 hex digits),
/// never the key itself (`[[api.keys]]`, or `COINBEAT_API__KEYS='[{role="admin",sha256="…"}]'`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyEntry {
    pub role: Role,
    /// Lowercase hex SHA-256 of the whole key as the caller sends it (`cbk_…`).
    pub sha256: String,
}

impl ApiKeyEntry {
    /// The 32 bytes of the hash, if `sha256` is 64 hex digits.
    pub fn digest(&self) -> Option<[u8; 32]> {
        let hex = self.sha256.trim().as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(out)
    }
}

/// The operational reads: what the deployment is doing rather than what the market is. Each
/// needs the `read` role unless `api.auth.public_status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusRead {
    /// `GET /v1/workers`.
    Workers,
    /// `GET /v1/queues`, `GET /v1/queues/{queue}/history`.
    Queues,
    /// `GET /v1/schedules`, `GET /v1/schedules/{entry}/runs`.
    Schedules,
    /// `GET /v1/health`, `GET /v1/rate-limits`, `GET /v1/status`.
    Health,
    /// `GET /v1/tasks/{id}`, `GET /v1/queues/{queue}/tasks`.
    Tasks,
    /// `GET /metrics`.
    Metrics,
}

/// `[api.auth]`: public reads and the optional JWT verifier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// The market reads (prices, their history and streams, markets, coins, wallet analyses,
    /// portfolio valuation) need no token (`COINBEAT_API__AUTH__PUBLIC_READS`). Off, they need
    /// `read`.
    pub public_reads: bool,
    /// Operational reads anyone may make (`["queues", "health"]`); the others need `read`.
    /// Empty by default. Answered to a caller without a token, they leave out what only an
    /// operator should see: watched wallets, task payloads and results, worker hosts and pids,
    /// key fingerprints.
    pub public_status: Vec<StatusRead>,
    /// Accept JWTs from an identity provider as well as API keys (`[api.auth.jwt]`).
    pub jwt: Option<JwtSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            public_reads: true,
            public_status: Vec::new(),
            jwt: None,
        }
    }
}

/// The one algorithm JWTs must be signed with; anything else (`none` included) is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with `secret`.
    #[default]
    HS256,
    /// RSA-SHA256, checked with `public_key_pem`.
    RS256,
}

/// `[api.auth.jwt]`: how a JWT is checked. It must carry `exp`, `iat`, the configured `iss` and
/// `aud`, and a `role` claim, and live at most `max_lifetime_secs`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JwtSettings {
    pub algorithm: JwtAlgorithm,
    /// The HS256 secret, at least 32 bytes (`COINBEAT_API__AUTH__JWT__SECRET`).
    pub secret: Option<Secret>,
    /// The RS256 public key, PEM (`-----BEGIN PUBLIC KEY-----…`).
    pub public_key_pem: Option<String>,
    /// The `iss` claim must equal it. Required: without it a token from any issuer that shares
    /// the key (another tenant of the identity provider, another of its apps) would pass.
    pub issuer: Option<String>,
    /// The `aud` claim must contain it. Required: without it a token the identity provider
    /// issued for another API would pass here.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: u64,
    /// Longest lifetime (`exp - iat`) a token may have, in seconds. One hour by default: the
    /// access-token lifetime most identity providers issue (Okta, Entra ID, Google), and the
    /// longest a leaked token stays useful; a provider set to longer tokens (Auth0's API
    /// default is a day) is refused until this is raised or the provider's lifetime lowered.
    pub max_lifetime_secs: u64,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            algorithm: JwtAlgorithm::HS256,
            secret: None,
            public_key_pem: None,
            issuer: None,
            audience: None,
            leeway_secs: 30,
            max_lifetime_secs: 3_600,
        }
    }
}

/// Shortest accepted HS256 secret: as many bytes as the hash (RFC 7518 §3.2).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

impl super::ApiSettings {
    /// Checks the keys and the JWT settings: every hash is 64 hex digits, the chosen algorithm
    /// has its key, the issuer and audience are set, the lifetime cap is at least a second.
    pub fn validate_auth(&self) -> Result<(), String> {
        for (i, key) in self.keys.iter().enumerate() {
            if key.digest().is_none() {
                return Err(format!(
                    "api.keys[{i}].sha256 must be 64 hex digits (the SHA-256 that \
                     `coinbeat keys new` prints), got {} characters",
                    key.sha256.trim().len()
                ));
            }
        }
        if let Some(jwt) = &self.auth.jwt {
            match jwt.algorithm {
                JwtAlgorithm::HS256 => match &jwt.secret {
                    Some(s) if s.expose().len() >= MIN_HS256_SECRET_BYTES => {}
                    Some(_) => {
                        return Err(format!(
                            "api.auth.jwt.secret must be at least {MIN_HS256_SECRET_BYTES} bytes"
                        ));
                    }
                    None => {
                        return Err("api.auth.jwt.algorithm is HS256 but api.auth.jwt.secret \
                                    (COINBEAT_API__AUTH__JWT__SECRET) is not set"
                            .into());
                    }
                },
                JwtAlgorithm::RS256 => {
                    if jwt
                        .public_key_pem
                        .as_deref()
                        .is_none_or(|p| p.trim().is_empty())
                    {
                        return Err("api.auth.jwt.algorithm is RS256 but \
                                    api.auth.jwt.public_key_pem is not set"
                            .into());
                    }
                }
            }
            for (name, claim, value) in [
                ("issuer", "iss", &jwt.issuer),
                ("audience", "aud", &jwt.audience),
            ] {
                if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                    return Err(format!(
                        "api.auth.jwt.{name} is not set: it is required when JWTs are accepted \
                         (every token's `{claim}` is checked against it)"
                    ));
                }
            }
            if jwt.max_lifetime_secs == 0 {
                return Err("api.auth.jwt.max_lifetime_secs must be at least 1".into());
            }
        }
        Ok(())
    }
}
