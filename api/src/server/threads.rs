//! The serving threads, each with a single-threaded runtime of its own (as nginx runs a worker
//! process per core). The accept loop hands each connection to the thread serving the fewest,
//! and the connection stays there: serving a request wakes no other thread and moves no task
//! between threads, which a work-stealing runtime does on nearly every request.
//!
//! There are two per core by default (`api.serving_threads`): with one per core, a thread the
//! kernel preempts (on a machine it shares) holds every answer of its connections back for a
//! scheduler tick, and nothing steals them; with two, each holds half as many and its core's
//! other thread goes on serving.

use std::{
    io,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::{
    net::TcpStream,
    sync::{mpsc, oneshot, watch},
};

use super::{App, ConnectionSettings, connection};
use crate::hardening::connections::Admitted;

/// A connection on its way to a serving thread, with its admission (released when it closes).
struct Handoff {
    tcp: std::net::TcpStream,
    peer: SocketAddr,
    admitted: Admitted,
}

/// One serving thread as the accept loop sees it.
struct Thread {
    handoff: mpsc::UnboundedSender<Handoff>,
    /// Connections it serves now.
    open: Arc<AtomicUsize>,
    /// Resolves when the thread has finished its last connection.
    done: oneshot::Receiver<()>,
}

/// The serving threads, started by [`ServingThreads::start`] and stopped by
/// [`ServingThreads::finish`].
pub(super) struct ServingThreads(Vec<Thread>);

impl ServingThreads {
    /// Starts `count` threads (at least one), each serving an app of its own from `make_app`.
    pub(super) fn start<S: App>(
        count: usize,
        make_app: impl Fn() -> S,
        settings: ConnectionSettings,
    ) -> io::Result<Self> {
        let mut threads = Vec::with_capacity(count.max(1));
        for index in 0..count.max(1) {
            let (handoff, receiver) = mpsc::unbounded_channel();
            let open = Arc::new(AtomicUsize::new(0));
            let (done_tx, done) = oneshot::channel();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (app, thread_open) = (make_app(), Arc::clone(&open));
            std::thread::Builder::new()
                .name(format!("api-{index}"))
                .spawn(move || {
                    runtime.block_on(run(receiver, app, settings, thread_open));
                    // Dropping the runtime here, before saying so, ends whatever the
                    // connections left spawned on it.
                    drop(runtime);
                    let _ = done_tx.send(());
                })?;
            threads.push(Thread {
                handoff,
                open,
                done,
            });
        }
        Ok(Self(threads))
    }

    /// Hands `tcp` to the thread serving the fewest connections.
    pub(super) fn dispatch(&self, tcp: TcpStream, peer: SocketAddr, admitted: Admitted) {
        let Some(thread) = self
            .0
            .iter()
            .min_by_key(|thread| thread.open.load(Ordering::Relaxed))
        else {
            return;
        };
        // The socket leaves this runtime's I/O driver for the serving thread's.
        let tcp = match tcp.into_std() {
            Ok(tcp) => tcp,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "cannot hand the connection over");
                return;
            }
        };
        thread.open.fetch_add(1, Ordering::Relaxed);
        let handoff = Handoff {
            tcp,
            peer,
            admitted,
        };
        if thread.handoff.send(handoff).is_err() {
            // Only a thread that panicked stops receiving; the connection closes.
            thread.open.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("a serving thread is gone; connection closed");
        }
    }

    /// Stops the threads: each lets its requests in progress finish, closes its connections and
    /// ends.
    pub(super) async fn finish(self) {
        for thread in self.0 {
            drop(thread.handoff);
            if thread.done.await.is_err() {
                tracing::error!("a serving thread panicked");
            }
        }
    }
}

/// One thread's loop: serves each connection handed to it until the accept loop hangs up, then
/// stops them all gracefully.
async fn run<S: App>(
    mut handoffs: mpsc::UnboundedReceiver<Handoff>,
    app: S,
    settings: ConnectionSettings,
    open: Arc<AtomicUsize>,
) {
    // Every connection task holds a receiver; the sender changing tells them to finish, and
    // `closed` resolves once the last of them has.
    let (stop_tx, stop_rx) = watch::channel(());
    while let Some(Handoff {
        tcp,
        peer,
        admitted,
    }) = handoffs.recv().await
    {
        let closed = Closed(Arc::clone(&open));
        let tcp = match TcpStream::from_std(tcp) {
            Ok(tcp) => tcp,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "cannot serve the connection");
                continue;
            }
        };
        let (app, stop) = (app.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let _admitted = admitted;
            let _closed = closed;
            connection::serve(tcp, peer, app, settings, stop).await;
        });
    }
    drop(stop_rx);
    stop_tx.send_replace(());
    stop_tx.closed().await;
}

/// Counts a connection off its thread when it ends, however it ends.
struct Closed(Arc<AtomicUsize>);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, time::Duration};

    use axum::{body::Body, http::Request, response::Response};
    use coinbeat_shared::settings::ApiSettings;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;
    use crate::hardening::{client_ip::TrustedProxies, connections::ConnectionLimits};

    /// Answers each request with the name of the thread serving it.
    fn thread_name() -> impl super::super::App {
        tower::service_fn(|_request: Request<Body>| async {
            let name = std::thread::current().name().unwrap_or("?").to_owned();
            Ok::<_, Infallible>(Response::new(Body::from(name)))
        })
    }

    /// One request on `tcp`; the answer's body.
    async fn ask(tcp: &mut tokio::net::TcpStream) -> String {
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((_, body)) = text.split_once("\r\n\r\n")
                && body.starts_with("api-")
                && body.len() >= "api-0".len()
            {
                return body.to_owned();
            }
        }
    }

    #[tokio::test]
    async fn each_connection_goes_to_the_least_busy_thread_stays_there_and_ends_at_finish() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let settings = ConnectionSettings {
            header_timeout: Duration::from_secs(10),
        };
        let threads = ServingThreads::start(2, thread_name, settings).unwrap();
        let limits = ConnectionLimits::new(&ApiSettings::default(), TrustedProxies::default());
        let mut clients = Vec::new();
        for _ in 0..4 {
            let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (tcp, peer) = listener.accept().await.unwrap();
            threads.dispatch(tcp, peer, limits.admit(peer.ip()).unwrap());
            // Answered once it is served, so the next one sees this one counted.
            let first = ask(&mut client).await;
            clients.push((client, first));
        }
        let mut served: Vec<&str> = clients.iter().map(|(_, t)| t.as_str()).collect();
        served.sort_unstable();
        assert_eq!(served, ["api-0", "api-0", "api-1", "api-1"]);
        for (client, first) in &mut clients {
            for _ in 0..3 {
                assert_eq!(
                    ask(client).await,
                    *first,
                    "a connection stays on its thread"
                );
            }
        }
        // A connection of the second thread closes: the next goes there (where taking turns
        // would send it to the first).
        let second = clients.iter().position(|(_, t)| t == "api-1").unwrap();
        let (closed, freed) = clients.remove(second);
        drop(closed);
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (tcp, peer) = listener.accept().await.unwrap();
        // The thread counts the connection off once it has seen it close.
        tokio::time::timeout(Duration::from_secs(5), async {
            while threads
                .0
                .iter()
                .map(|t| t.open.load(Ordering::Relaxed))
                .sum::<usize>()
                > 3
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the closed connection is counted off");
        threads.dispatch(tcp, peer, limits.admit(peer.ip()).unwrap());
        assert_eq!(ask(&mut client).await, freed);
        // Finishing closes every connection and ends every thread.
        tokio::time::timeout(Duration::from_secs(5), threads.finish())
            .await
            .expect("the threads end");
        let mut buf = [0u8; 16];
        assert_eq!(
            client.read(&mut buf).await.unwrap(),
            0,
            "closed by the server"
        );
    }
}
