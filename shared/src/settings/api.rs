//! Settings of the HTTP API process.

use serde::{Deserialize, Serialize};

use super::Secret;

/// Where the API listens and how long it waits on Redis before answering 503.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// `host:port` to listen on (`COINBEAT_API__ADDR`).
    pub addr: String,
    /// A Redis call slower than this answers 503 instead of hanging the request.
    pub redis_timeout_ms: u64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// The bearer token of the admin routes (`/v1/admin/...`: dead letters, queue purge,
    /// schedule pause/resume/run), `COINBEAT_API__ADMIN_TOKEN`. Unset, those routes answer 403.
    pub admin_token: Option<Secret>,
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
            admin_token: None,
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

    use crate::Settings;

    #[test]
    fn the_admin_token_comes_from_the_environment_and_never_shows_in_debug() {
        Jail::expect_with(|jail| {
            assert_eq!(Settings::load(None).expect("loads").api.admin_token, None);
            jail.set_env("COINBEAT_API__ADMIN_TOKEN", "t0ps3cret");
            let s = Settings::load(None).expect("loads");
            let token = s.api.admin_token.as_ref().expect("set");
            assert_eq!(token.expose(), "t0ps3cret");
            assert!(!format!("{s:?}").contains("t0ps3cret"));
            Ok(())
        });
    }
}
