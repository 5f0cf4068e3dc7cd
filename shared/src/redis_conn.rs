//! Opening Redis connections from settings, with errors that never echo the URL's password.

use redis::{Client, aio::ConnectionManager};

use crate::settings::RedisSettings;

/// Redis could not be reached or the URL is malformed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid redis url: {0}")]
    BadUrl(#[source] redis::RedisError),
    #[error("cannot connect to redis: {0}")]
    Connect(#[source] redis::RedisError),
}

/// A client for the configured URL (no connection is made yet). `rediss://` is TLS, checked
/// against the system's CA certificates (`rediss://…/#insecure` skips the check).
pub fn client(settings: &RedisSettings) -> Result<Client, ConnectError> {
    if settings.url.expose().starts_with("rediss://") {
        // rustls needs one process-wide crypto provider; a second install is a no-op error.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    Client::open(settings.url.expose()).map_err(ConnectError::BadUrl)
}

/// A self-reconnecting, multiplexed connection shared by everything in one process.
pub async fn connect(settings: &RedisSettings) -> Result<ConnectionManager, ConnectError> {
    let client = client(settings)?;
    ConnectionManager::new_with_config(client, manager_config())
        .await
        .map_err(ConnectError::Connect)
}

/// Like [`connect`], but returns at once and connects on first use: for processes that must
/// start (and report Redis as unavailable) while Redis is down, such as the API.
pub fn connect_lazy(settings: &RedisSettings) -> Result<ConnectionManager, ConnectError> {
    let client = client(settings)?;
    ConnectionManager::new_lazy_with_config(client, manager_config()).map_err(ConnectError::Connect)
}

fn manager_config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
        .set_response_timeout(Some(std::time::Duration::from_secs(10)))
        .set_number_of_retries(2)
}
