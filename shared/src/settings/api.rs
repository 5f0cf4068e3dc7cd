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
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            redis_timeout_ms: 1_000,
            max_body_bytes: 64 * 1024,
            admin_token: None,
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
