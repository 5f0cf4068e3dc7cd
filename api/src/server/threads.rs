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

use super::{
    App, ConnectionSettings,
    connection::{self, ConnectionHold, Held},
};
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
    drained: oneshot::Receiver<()>,
    /// Lets the thread end (and its runtime go) once every thread has drained.
    release: oneshot::Sender<()>,
    /// Resolves when the thread has ended.
    done: oneshot::Receiver<()>,
}

/// The serving threads, started by [`ServingThreads::start`] and stopped by
/// [`ServingThreads::drain`] and [`Drained::end`].
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
            let (drained_tx, drained) = oneshot::channel();
            let (release, released) = oneshot::channel();
            let (done_tx, done) = oneshot::channel();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (app, thread_open) = (make_app(), Arc::clone(&open));
            std::thread::Builder::new()
                .name(format!("api-{index}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        run(receiver, app, settings, thread_open).await;
                        let _ = drained_tx.send(());
                        // Tasks spawned here may serve other threads too (a Redis connection
                        // reconnected from a request here runs its driver on this runtime),
                        // so the runtime stays until every thread has drained and the caller
                        // has stopped what else uses them.
                        let _ = released.await;
                    });
                    // Dropping the runtime here, before saying so, ends whatever the
                    // connections left spawned on it.
                    drop(runtime);
                    let _ = done_tx.send(());
                })?;
            threads.push(Thread {
                handoff,
                open,
                drained,
                release,
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

    /// Stops the threads, all at once: each lets its requests in progress finish and closes
    /// its connections (and upgraded sockets). Their runtimes stay until [`Drained::end`].
    pub(super) async fn drain(self) -> Drained {
        let mut drained = Vec::with_capacity(self.0.len());
        let mut rest = Vec::with_capacity(self.0.len());
        for thread in self.0 {
            drop(thread.handoff);
            drained.push(thread.drained);
            rest.push((thread.release, thread.done));
        }
        for result in futures::future::join_all(drained).await {
            if result.is_err() {
                tracing::error!("a serving thread panicked");
            }
        }
        Drained(rest)
    }
}

/// Serving threads that have closed every connection, their runtimes still up.
pub(super) struct Drained(Vec<(oneshot::Sender<()>, oneshot::Receiver<()>)>);

impl Drained {
    /// Ends the threads and their runtimes.
    pub(super) async fn end(self) {
        let mut done = Vec::with_capacity(self.0.len());
        for (release, ended) in self.0 {
            let _ = release.send(());
            done.push(ended);
        }
        futures::future::join_all(done).await;
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
    // Every connection (and upgraded socket) holds a receiver; the sender changing tells them
    // to finish, and `closed` resolves once the last of them has.
    let (stop_tx, stop_rx) = watch::channel(());
    while let Some(Handoff {
        tcp,
        peer,
        admitted,
    }) = handoffs.recv().await
    {
        let hold = ConnectionHold::new(Held {
            stop: stop_rx.clone(),
            open: Arc::clone(&open),
            _admitted: admitted,
        });
        let tcp = match TcpStream::from_std(tcp) {
            Ok(tcp) => tcp,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "cannot serve the connection");
                continue;
            }
        };
        tokio::spawn(connection::serve(tcp, peer, app.clone(), settings, hold));
    }
    drop(stop_rx);
    stop_tx.send_replace(());
    stop_tx.closed().await;
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, sync::Arc, time::Duration};

    use axum::{body::Body, http::Request, response::Response};
    use coinbeat_shared::settings::ApiSettings;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
        sync::Notify,
    };

    use super::*;
    use crate::hardening::{client_ip::TrustedProxies, connections::ConnectionLimits};

    /// Answers each request with the name of the thread serving it; `GET /slow` says it has
    /// started (`started`) and answers only once `release` is notified.
    fn thread_name(started: Arc<Notify>, release: Arc<Notify>) -> impl super::super::App {
        tower::service_fn(move |request: Request<Body>| {
            let (started, release) = (Arc::clone(&started), Arc::clone(&release));
            async move {
                if request.uri().path() == "/slow" {
                    started.notify_one();
                    release.notified().await;
                }
                let name = std::thread::current().name().unwrap_or("?").to_owned();
                Ok::<_, Infallible>(Response::new(Body::from(name)))
            }
        })
    }

    struct Fixture {
        listener: TcpListener,
        threads: ServingThreads,
        limits: ConnectionLimits,
        started: Arc<Notify>,
        release: Arc<Notify>,
    }

    impl Fixture {
        async fn start(count: usize) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
            let settings = ConnectionSettings {
                header_timeout: Duration::from_secs(10),
            };
            let (s, r) = (Arc::clone(&started), Arc::clone(&release));
            let threads = ServingThreads::start(
                count,
                move || thread_name(Arc::clone(&s), Arc::clone(&r)),
                settings,
            )
            .unwrap();
            let limits = ConnectionLimits::new(&ApiSettings::default(), TrustedProxies::default());
            Self {
                listener,
                threads,
                limits,
                started,
                release,
            }
        }

        /// A new connection, accepted and handed to the threads.
        async fn connect(&self) -> tokio::net::TcpStream {
            let client = tokio::net::TcpStream::connect(self.listener.local_addr().unwrap())
                .await
                .unwrap();
            let (tcp, peer) = self.listener.accept().await.unwrap();
            self.threads
                .dispatch(tcp, peer, self.limits.admit(peer.ip()).unwrap());
            client
        }

        fn open(&self) -> usize {
            self.threads
                .0
                .iter()
                .map(|t| t.open.load(Ordering::Relaxed))
                .sum()
        }
    }

    async fn send(tcp: &mut tokio::net::TcpStream, path: &str) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
    }

    /// Reads one answer on `tcp`; its body.
    async fn answer(tcp: &mut tokio::net::TcpStream) -> String {
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

    async fn ask(tcp: &mut tokio::net::TcpStream) -> String {
        send(tcp, "/").await;
        answer(tcp).await
    }

    /// Waits for the server to close `tcp`.
    async fn closed(tcp: &mut tokio::net::TcpStream) {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
            .await
            .expect("closed by the server within 5 s");
        assert_eq!(read.unwrap(), 0);
    }

    #[tokio::test]
    async fn each_connection_goes_to_the_least_busy_thread_and_stays_there() {
        let fixture = Fixture::start(2).await;
        let mut clients = Vec::new();
        for _ in 0..4 {
            let mut client = fixture.connect().await;
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
        let (gone, freed) = clients.remove(second);
        drop(gone);
        // The thread counts the connection off once it has seen it close.
        tokio::time::timeout(Duration::from_secs(5), async {
            while fixture.open() > 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the closed connection is counted off");
        let mut client = fixture.connect().await;
        assert_eq!(ask(&mut client).await, freed);
        fixture.threads.drain().await.end().await;
        closed(&mut client).await;
    }

    #[tokio::test]
    async fn draining_stops_every_thread_at_once_and_lets_a_request_in_progress_finish() {
        let fixture = Fixture::start(2).await;
        let mut busy = fixture.connect().await;
        assert_eq!(ask(&mut busy).await, "api-0");
        let mut idle = fixture.connect().await;
        assert_eq!(ask(&mut idle).await, "api-1");
        send(&mut busy, "/slow").await;
        fixture.started.notified().await;
        let Fixture {
            threads, release, ..
        } = fixture;
        let draining = tokio::spawn(threads.drain());
        // The other thread closes its idle connection while the first still serves its
        // request (a drain one thread after the other would wait for that request first).
        closed(&mut idle).await;
        assert!(!draining.is_finished());
        release.notify_one();
        assert_eq!(
            answer(&mut busy).await,
            "api-0",
            "the request in progress is answered"
        );
        closed(&mut busy).await;
        let drained = tokio::time::timeout(Duration::from_secs(5), draining)
            .await
            .expect("drained")
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), drained.end())
            .await
            .expect("the threads end");
    }
}
