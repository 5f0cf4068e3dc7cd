//! One connection, served by hyper's HTTP/1.1 on the thread it was handed to, until the client
//! closes it or the thread's stop signal asks it to finish.

use std::{
    cell::RefCell,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll, Waker},
};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Request, header},
};
use futures::future::Either;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpStream, sync::watch};
use tower::ServiceExt;

use super::{App, ConnectionSettings};
use crate::hardening::connections::Admitted;

/// What keeps a connection admitted, counted on its thread, and its thread's shutdown waiting
/// for it. The connection's task holds it; a request asking to upgrade carries a copy, which
/// the route moves into the task serving the upgraded socket (a WebSocket outlives the HTTP
/// exchange that opened it, and is still this connection).
#[derive(Debug, Clone)]
pub struct ConnectionHold(Arc<Held>);

/// What a [`ConnectionHold`] keeps until its last copy goes.
#[derive(Debug)]
pub(super) struct Held {
    /// The thread's stop signal: the thread's shutdown waits for every receiver to go.
    pub(super) stop: watch::Receiver<()>,
    /// The thread's count of open connections, this one counted off when it goes.
    pub(super) open: Arc<AtomicUsize>,
    /// The connection's place under the process's and its client's connection caps.
    pub(super) _admitted: Admitted,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ConnectionHold {
    pub(super) fn new(held: Held) -> Self {
        Self(Arc::new(held))
    }

    /// The thread's stop signal.
    fn stop(&self) -> watch::Receiver<()> {
        self.0.stop.clone()
    }
}

/// Serves `tcp` until it closes, or, once the thread's stop signal changes or closes, finishes
/// the request in progress and closes it.
pub(super) async fn serve<S: App>(
    tcp: TcpStream,
    peer: SocketAddr,
    app: S,
    settings: ConnectionSettings,
    hold: ConnectionHold,
) {
    let mut stop = hold.stop();
    let service = PerConnection {
        app: RefCell::new(app),
        peer,
        hold,
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout);
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
}

/// The connection's own copy of the app, called in place for each of its requests (HTTP/1.1
/// answers them one at a time), rather than cloned for each as hyper's `service_fn` would need.
struct PerConnection<S> {
    app: RefCell<S>,
    peer: SocketAddr,
    hold: ConnectionHold,
}

impl<S: App> hyper::service::Service<Request<Incoming>> for PerConnection<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, tower::util::Oneshot<S, Request<Body>>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        // Each request carries the peer address, as `into_make_service_with_connect_info`
        // would.
        request.extensions_mut().insert(ConnectInfo(self.peer));
        if request.headers().contains_key(header::UPGRADE) {
            request.extensions_mut().insert(self.hold.clone());
        }
        let request = request.map(Body::new);
        let mut app = self.app.borrow_mut();
        // The stack is always ready; were it ever not, the request waits on a copy of it.
        match app.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Either::Left(app.call(request)),
            _ => Either::Right(app.clone().oneshot(request)),
        }
    }
}
