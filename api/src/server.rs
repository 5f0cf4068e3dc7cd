//! Serving the router: [`serve`] on a listener the caller bound (tests bind port 0), [`run`] on
//! the configured address. Both stop gracefully when the shutdown token is cancelled.
//!
//! The accept loop is ours rather than `axum::serve`'s, which sets no timer on a connection:
//! each connection is admitted against the process's and its client's connection caps
//! ([`ConnectionLimits`]) and served by hyper's HTTP/1.1 with a header-read timeout, so a client
//! that opens connections and never finishes a request cannot hold them.

use std::time::Duration;

use axum::{body::Body, extract::ConnectInfo, http::Request};
use coinbeat_shared::{
    Settings,
    redis_conn::{self, ConnectError},
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::watch};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::{
    AppState,
    hardening::{
        client_ip::TrustedProxies,
        connections::{ConnectionLimits, Refused},
    },
    live_prices, router,
};

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
    tracing::info!(%addr, "listening");
    let limits = ConnectionLimits::new(
        &settings.api,
        TrustedProxies::new(&settings.api.trusted_proxies),
    );
    let app = router(state.clone());
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
    // Every connection task holds a receiver; the sender going away tells them to finish, and
    // `closed` resolves once the last of them has.
    let (stop_tx, stop_rx) = watch::channel(());
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
        let app = app.clone();
        // Each request carries the peer address, as `into_make_service_with_connect_info` would.
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(Body::new))
        });
        let header_timeout = limits.header_timeout();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _admitted = admitted;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::trace!(error = %e, "connection ended");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    // Live streams never end by themselves; graceful shutdown waits for them.
    state.price_events().close();
    drop(stop_rx);
    // Every connection starts its graceful shutdown; `closed` resolves once each has ended.
    stop_tx.send_replace(());
    stop_tx.closed().await;
    tracing::info!("stopped");
    match refused {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
