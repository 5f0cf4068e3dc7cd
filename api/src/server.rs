//! Serving the router: [`serve`] on a listener the caller bound (tests bind port 0), [`run`] on
//! the configured address. Both stop gracefully when the shutdown token is cancelled.

use axum::serve::ListenerExt;
use coinbeat_shared::{
    Settings,
    redis_conn::{self, ConnectError},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{AppState, live_prices, router};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Redis(#[from] ConnectError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Cors(#[from] crate::hardening::cors::CorsError),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds `settings.api.addr` and serves until `shutdown` is cancelled.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> Result<(), ServeError> {
    let addr = settings.api.addr.clone();
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    serve(settings, listener, shutdown).await
}

/// Serves the API on `listener` until `shutdown` is cancelled, then lets requests in progress
/// finish. Does not wait for Redis: the API starts (and reports 503) while Redis is down.
/// Alongside, it keeps the in-process price copy current until it returns.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    // A bad origin is a start-up error, not an origin silently left out.
    crate::hardening::cors::layer(&settings.api.cors_origins)?;
    let state = AppState::new(&settings)?;
    let client = redis_conn::client(&settings.redis)?;
    let follower_stop = shutdown.child_token();
    // Stops the follower however `serve` returns.
    let _stop_follower = follower_stop.clone().drop_guard();
    tokio::spawn(live_prices::follow(state.clone(), client, follower_stop));
    let addr = listener.local_addr()?;
    // Responses are small and written whole; Nagle's algorithm would only add latency.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    tracing::info!(%addr, "listening");
    let streams = state.clone();
    // The peer address is what the per-client rate limit counts by.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            // Live streams never end by themselves; graceful shutdown waits for them.
            streams.price_events().close();
        })
        .await?;
    tracing::info!("stopped");
    Ok(())
}
