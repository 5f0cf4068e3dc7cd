//! Serving the router: [`serve`] on a listener the caller bound (tests bind port 0), [`run`] on
//! the configured address. Both stop gracefully when the shutdown token is cancelled.
//!
//! The accept loop is ours rather than `axum::serve`'s, which sets no timer on a connection:
//! each connection is admitted against the process's and its client's connection caps
//! ([`ConnectionLimits`]) and served by hyper's HTTP/1.1 with a header-read timeout, so a client
//! that opens connections and never finishes a request cannot hold them.
//!
//! - [`threads`]: the serving threads (`api.serving_threads`), each a single-threaded runtime;
//!   the accept loop hands each connection to the one serving the fewest.
//! - [`connection`]: one connection served by hyper until it closes or is told to finish, and
//!   [`ConnectionHold`], which keeps it counted while an upgraded socket of it lives on.

mod connection;
mod threads;

pub use connection::ConnectionHold;

use std::{convert::Infallible, time::Duration};

use axum::{body::Body, http::Request, response::Response};

use coinbeat_shared::{
    Settings,
    redis_conn::{self, ConnectError},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    AppState,
    hardening::{
        client_ip::TrustedProxies,
        connections::{ConnectionLimits, Refused},
    },
    live_prices,
    routes::service,
};
use threads::ServingThreads;

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
///
/// The caller's runtime accepts, checks Redis's policy and runs the copy's follower; the
/// requests are served on [`threads`] (`api.serving_threads`).
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
    let follower = tokio::spawn(live_prices::follow(
        state.clone(),
        client,
        follower_stop.clone(),
    ));
    let addr = listener.local_addr()?;
    let limits = ConnectionLimits::new(
        &settings.api,
        TrustedProxies::new(&settings.api.trusted_proxies),
    );
    let serving_threads = settings.api.serving_threads();
    let connection = ConnectionSettings {
        header_timeout: limits.header_timeout(),
    };
    // Each thread has a stack of its own (the shared state stays shared).
    let threads = ServingThreads::start(serving_threads, || service(state.clone()), connection)?;
    tracing::info!(%addr, threads = serving_threads, "listening");
    // The API starts while Redis is down, so Redis's eviction policy is checked beside serving,
    // once Redis first answers; a Redis that evicts our keys stops the API with the reason.
    let policy = redis_conn::watch_every_eviction_policy(
        state.conn().clone(),
        state.queue_redis().clone(),
        settings.clone(),
    );
    tokio::pin!(policy);
    let mut policy_checked = false;
    let mut refused = None;
    loop {
        let (tcp, peer) = tokio::select! {
            verdict = &mut policy, if !policy_checked => {
                policy_checked = true;
                match verdict {
                    Ok(()) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "refusing this redis; stopping");
                        refused = Some(e);
                        break;
                    }
                }
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: neither
                    // ends the server. A short pause keeps a persistent error from spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let admitted = match limits.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refused) => {
                tracing::debug!(%peer, ?refused, "connection refused at accept");
                state.http_metrics().connection_refused(match refused {
                    Refused::Process => "process",
                    Refused::Client => "client",
                });
                continue;
            }
        };
        // Responses are small and written whole; Nagle's algorithm would only add latency.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        threads.dispatch(tcp, peer, admitted);
    }
    drop(listener);
    // Live streams never end by themselves; graceful shutdown waits for them.
    state.price_events().close();
    // Every connection finishes its request in progress and closes, on every thread at once.
    let drained = threads.drain().await;
    // The follower may be using a Redis connection whose driver a serving thread's runtime
    // runs (see `threads`): it stops before the threads end.
    follower_stop.cancel();
    let _ = follower.await;
    drained.end().await;
    tracing::info!("stopped");
    match refused {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// What the serving threads serve: the router's whole stack ([`service`]).
trait App:
    tower::Service<Request<Body>, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S> App for S where
    S: tower::Service<
            Request<Body>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// How each connection is served.
#[derive(Debug, Clone, Copy)]
struct ConnectionSettings {
    /// How long a request's head may take to arrive (`api.header_timeout_ms`), counted from
    /// the connection's first byte or the previous answer.
    header_timeout: Duration,
}
