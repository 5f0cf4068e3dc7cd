//! One connection, served by hyper's HTTP/1.1 on the thread it was handed to, until the client
//! closes it or the thread's stop signal asks it to finish.

use std::{
    cell::RefCell,
    net::SocketAddr,
    task::{Context, Poll, Waker},
};

use axum::{body::Body, extract::ConnectInfo, http::Request};
use futures::future::Either;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpStream, sync::watch};
use tower::ServiceExt;

use super::{App, ConnectionSettings};

/// Serves `tcp` until it closes, or, once `stop` changes or closes, finishes the request in
/// progress and closes it.
pub(super) async fn serve<S: App>(
    tcp: TcpStream,
    peer: SocketAddr,
    app: S,
    settings: ConnectionSettings,
    mut stop: watch::Receiver<()>,
) {
    let service = PerConnection {
        app: RefCell::new(app),
        peer,
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
}

impl<S: App> hyper::service::Service<Request<Incoming>> for PerConnection<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, tower::util::Oneshot<S, Request<Body>>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        // Each request carries the peer address, as `into_make_service_with_connect_info`
        // would.
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let request = request.map(Body::new);
        let mut app = self.app.borrow_mut();
        // The stack is always ready; were it ever not, the request waits on a copy of it.
        match app.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Either::Left(app.call(request)),
            _ => Either::Right(app.clone().oneshot(request)),
        }
    }
}
