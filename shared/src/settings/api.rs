//! Settings of the HTTP API process.

use serde::{Deserialize, Serialize};

use super::{ApiKeyEntry, AuthSettings};

/// Where the API listens, how long it waits on Redis before answering 503, and who may call it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// `host:port` to listen on (`COINBEAT_API__ADDR`).
    pub addr: String,
    /// A Redis call slower than this answers 503 instead of hanging the request.
    pub redis_timeout_ms: u64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// The API keys, each a role and the key's SHA-256 (`[[api.keys]]`,
    /// `COINBEAT_API__KEYS`). `coinbeat keys new --role <role>` makes one.
    pub keys: Vec<ApiKeyEntry>,
    /// Public reads and JWTs (`[api.auth]`).
    pub auth: AuthSettings,
    /// Browser origins allowed to call the API (CORS), e.g. `["https://app.example.com"]`;
    /// `["*"]` for any. Empty (the default): no CORS headers, browsers keep other sites out.
    pub cors_origins: Vec<String>,
    /// Requests per second one client (peer IP) may make; past it, 429 with `Retry-After`.
    /// 0 turns the limit off.
    pub client_rate_per_sec: u32,
    /// Requests a client may make at once above its rate.
    pub client_burst: u32,
    /// Most live price streams (`/v1/stream/prices` and `/v1/ws/prices` together) one API
    /// process serves at once; one more is answered 429 `too_many_stream_clients`.
    pub max_stream_clients: usize,
    /// Interval of the keep-alives on an idle live price stream (an SSE comment, a WebSocket
    /// ping), so proxies and clients can tell a quiet stream from a dead one.
    pub stream_keepalive_ms: u64,
    /// Price events buffered for the live streams. A client that falls this far behind skips
    /// ahead to the newest events and is told how many it missed (a `lagged` event).
    pub stream_buffer: usize,
    /// Most points `GET /v1/prices/{symbol}/history` returns (the newest are kept).
    pub max_history_points: usize,
    /// Most holdings one `POST /v1/portfolio/value` may list.
    pub max_portfolio_holdings: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            redis_timeout_ms: 1_000,
            max_body_bytes: 64 * 1024,
            keys: Vec::new(),
            auth: AuthSettings::default(),
            cors_origins: Vec::new(),
            client_rate_per_sec: 200,
            client_burst: 400,
            max_stream_clients: 1_000,
            stream_keepalive_ms: 15_000,
            stream_buffer: 1_024,
            max_history_points: 1_000,
            max_portfolio_holdings: 100,
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed by figment.
mod tests {
    use figment::Jail;

    use crate::{Settings, settings::Role};

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn api_keys_come_from_the_file_or_the_environment_as_role_and_hash() {
        Jail::expect_with(|jail| {
            assert!(Settings::load(None).expect("loads").api.keys.is_empty());
            jail.create_file(
                "c.toml",
                &format!("[[api.keys]]\nrole = \"admin\"\nsha256 = \"{HASH}\"\n"),
            )?;
            let s = Settings::load(Some(std::path::Path::new("c.toml"))).expect("loads");
            assert_eq!(s.api.keys.len(), 1);
            assert_eq!(s.api.keys[0].role, Role::Admin);
            assert_eq!(s.api.keys[0].sha256, HASH);

            jail.set_env(
                "COINBEAT_API__KEYS",
                format!(
                    "[{{role=\"enqueue\",sha256=\"{HASH}\"}},{{role=\"read\",sha256=\"{HASH}\"}}]"
                ),
            );
            let s = Settings::load(None).expect("loads");
            let roles: Vec<Role> = s.api.keys.iter().map(|k| k.role).collect();
            assert_eq!(roles, [Role::Enqueue, Role::Read]);
            Ok(())
        });
    }

    #[test]
    fn a_key_hash_that_is_not_64_hex_digits_or_a_jwt_without_its_key_is_refused_at_load() {
        Jail::expect_with(|jail| {
            jail.set_env("COINBEAT_API__KEYS", "[{role=\"admin\",sha256=\"abc\"}]");
            let err = Settings::load(None).expect_err("short hash");
            assert!(err.to_string().contains("api.keys[0].sha256"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("COINBEAT_API__KEYS", "[{role=\"boss\",sha256=\"abc\"}]");
            let err = Settings::load(None).expect_err("unknown role");
            assert!(err.to_string().contains("boss"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("COINBEAT_API__AUTH__JWT__ISSUER", "https://idp.example");
            let err = Settings::load(None).expect_err("HS256 without a secret");
            assert!(err.to_string().contains("api.auth.jwt.secret"), "{err}");
            jail.set_env("COINBEAT_API__AUTH__JWT__SECRET", "short");
            let err = Settings::load(None).expect_err("short secret");
            assert!(err.to_string().contains("at least 32 bytes"), "{err}");
            jail.set_env("COINBEAT_API__AUTH__JWT__SECRET", "x".repeat(32));
            let s = Settings::load(None).expect("loads");
            assert!(
                !format!("{s:?}").contains(&"x".repeat(32)),
                "the secret is redacted"
            );
            Ok(())
        });
    }
}
