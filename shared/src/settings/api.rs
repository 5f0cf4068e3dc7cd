//! Settings of the HTTP API process.

use ipnet::IpNet;
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
    /// Requests per second one client may make; past it, 429 with `Retry-After`. 0 turns the
    /// limit off. A client is the caller when the request presents a valid API key or JWT,
    /// otherwise its IP address, an IPv6 client its /64 (one host rotating addresses inside its
    /// prefix stays one client).
    pub client_rate_per_sec: u32,
    /// Requests a client may make at once above its rate.
    pub client_burst: u32,
    /// Most live price streams (`/v1/stream/prices` and `/v1/ws/prices` together) one API
    /// process serves at once; one more is answered 429 `too_many_stream_clients`.
    pub max_stream_clients: usize,
    /// Most of those streams one client may hold at once (429 `too_many_streams` past it), so
    /// one address cannot take every slot.
    pub max_streams_per_client: usize,
    /// Proxies (addresses or networks, `["10.0.0.0/8", "::1"]`) whose `X-Forwarded-For` is
    /// believed. A request from one of them is counted as the nearest address in that header
    /// that is not itself a listed proxy; from anywhere else, as its TCP peer, whatever the
    /// header says. Empty (the default): the header is never read.
    #[serde(with = "networks")]
    pub trusted_proxies: Vec<IpNet>,
    /// Open connections one API process accepts; past it a new connection is closed at once.
    pub max_connections: usize,
    /// Open connections one client address may hold (a trusted proxy is not limited: its
    /// clients are counted request by request).
    pub max_connections_per_client: usize,
    /// A connection whose next request's headers are not complete this long after it became
    /// ready for them is closed. It bounds slow headers and idle keep-alive connections alike.
    pub header_timeout_ms: u64,
    /// Threads serving requests, each a single-threaded runtime holding its own connections. 0
    /// (the default): two per core. More than one per core keeps a thread the kernel has
    /// preempted from holding many connections' answers back (see BENCHMARKS.md).
    pub serving_threads: usize,
    /// Tasks one caller (API key or JWT subject) may have waiting or running at once from the
    /// enqueue routes; one more is 429 `too_many_tasks`. 0 turns the cap off.
    pub max_waiting_per_caller: usize,
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
            max_streams_per_client: 16,
            trusted_proxies: Vec::new(),
            max_connections: 10_000,
            max_connections_per_client: 256,
            header_timeout_ms: 10_000,
            serving_threads: 0,
            max_waiting_per_caller: 100,
            stream_keepalive_ms: 15_000,
            stream_buffer: 1_024,
            max_history_points: 1_000,
            max_portfolio_holdings: 100,
        }
    }
}

impl ApiSettings {
    /// How many threads serve requests: `serving_threads`, or two per core when it is 0.
    pub fn serving_threads(&self) -> usize {
        match self.serving_threads {
            0 => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// What the types cannot say about the connection and stream limits.
    pub fn validate_limits(&self) -> Result<(), String> {
        let keepalive_ms = self.stream_keepalive_ms;
        if self.header_timeout_ms == 0 {
            return Err("api.header_timeout_ms must be above 0".into());
        }
        if self.max_connections == 0 || self.max_connections_per_client == 0 {
            return Err(
                "api.max_connections and api.max_connections_per_client must be above 0".into(),
            );
        }
        if self.max_streams_per_client == 0 || keepalive_ms == 0 {
            return Err(
                "api.max_streams_per_client and api.stream_keepalive_ms must be above 0".into(),
            );
        }
        Ok(())
    }
}

/// `trusted_proxies` as strings: a network (`10.0.0.0/8`) or one address (`10.1.2.3`, `::1`).
mod networks {
    use std::net::IpAddr;

    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(|n| n.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|raw| {
                let raw = raw.trim();
                raw.parse::<IpNet>()
                    .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        D::Error::custom(format!(
                            "{raw:?} is neither an IP address nor a network like 10.0.0.0/8"
                        ))
                    })
            })
            .collect()
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
    fn trusted_proxies_are_addresses_or_networks_and_anything_else_is_refused_at_load() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "COINBEAT_API__TRUSTED_PROXIES",
                "[\"10.0.0.0/8\",\"192.168.1.7\",\"fd00::/8\",\"::1\"]",
            );
            let s = Settings::load(None).expect("loads");
            let nets: Vec<String> = s
                .api
                .trusted_proxies
                .iter()
                .map(|n| n.to_string())
                .collect();
            assert_eq!(
                nets,
                ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "::1/128"]
            );
            jail.set_env("COINBEAT_API__TRUSTED_PROXIES", "[\"proxy.local\"]");
            let err = Settings::load(None).expect_err("a host name");
            assert!(err.to_string().contains("proxy.local"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_key_hash_that_is_not_64_hex_digits_or_a_jwt_without_its_key_issuer_or_audience_is_refused_at_load()
     {
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
            let err = Settings::load(None).expect_err("no audience");
            assert!(err.to_string().contains("api.auth.jwt.audience"), "{err}");
            jail.set_env("COINBEAT_API__AUTH__JWT__AUDIENCE", "coinbeat");
            let s = Settings::load(None).expect("loads");
            assert_eq!(s.api.auth.jwt.as_ref().unwrap().max_lifetime_secs, 3_600);
            assert!(
                !format!("{s:?}").contains(&"x".repeat(32)),
                "the secret is redacted"
            );
            jail.set_env("COINBEAT_API__AUTH__JWT__MAX_LIFETIME_SECS", "0");
            let err = Settings::load(None).expect_err("no lifetime");
            assert!(err.to_string().contains("max_lifetime_secs"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("COINBEAT_API__AUTH__JWT__SECRET", "x".repeat(32));
            jail.set_env("COINBEAT_API__AUTH__JWT__AUDIENCE", "coinbeat");
            let err = Settings::load(None).expect_err("no issuer");
            assert!(err.to_string().contains("api.auth.jwt.issuer"), "{err}");
            Ok(())
        });
    }
}
