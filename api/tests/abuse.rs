//! What a hostile client can make the real `coinbeat-api` process do, measured from outside:
//! its memory under an oversized WebSocket message, connections that never finish their
//! headers, one address taking every stream slot; and the audit line an admin call leaves.
//! Each test starts the binary against a private redis-server and talks to it over TCP.

use std::{
    io::Read,
    net::{IpAddr, SocketAddr},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use coinbeat_api::auth::api_key::sha256_hex;
use coinbeat_shared::testing::{TestRedis, free_port, unique_prefix};
use futures::{SinkExt, StreamExt};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::Message;

const ADMIN_KEY: &str = "cbk_3333333333333333333333333333333333333333333333333333333333333333";

/// A running `coinbeat-api` process; killed on drop.
struct ApiProcess {
    _redis: TestRedis,
    child: Child,
    addr: SocketAddr,
}

impl ApiProcess {
    /// Starts the binary with JSON logs, the admin key above, no request rate limit (these
    /// tests send many requests from one address on purpose) and `env` on top.
    async fn start(env: &[(&str, &str)]) -> Self {
        let redis = TestRedis::start();
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let keys = format!("[{{role=\"admin\",sha256=\"{}\"}}]", sha256_hex(ADMIN_KEY));
        let mut command = Command::new(env!("CARGO_BIN_EXE_coinbeat-api"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", redis.url())
            .env("COINBEAT_REDIS__KEY_PREFIX", unique_prefix())
            .env("COINBEAT_API__ADDR", addr.to_string())
            .env("COINBEAT_API__KEYS", keys)
            .env("COINBEAT_API__CLIENT_RATE_PER_SEC", "0")
            .env("COINBEAT_TELEMETRY__FORMAT", "json")
            .env("RUST_LOG", "info")
            // The log lines go to stdout.
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("start coinbeat-api");
        let api = Self {
            _redis: redis,
            child,
            addr,
        };
        api.wait_until_serving().await;
        api
    }

    async fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("http://{}/healthz", self.addr);
        // Not kept alive: the connection is gone when the test starts counting its own.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        while Instant::now() < deadline {
            if let Ok(r) = http.get(&url).header("connection", "close").send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("coinbeat-api did not serve /healthz within 20 s");
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Resident memory of the process, in bytes (`VmRSS`).
    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status");
        kib * 1024
    }

    /// Stops the process and returns what it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut logs = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut logs);
        }
        logs
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the WebSocket ends (a close frame, an error or the end of the stream) within
/// `within`, skipping the feed's own messages.
async fn ends_within<S>(socket: &mut S, within: Duration) -> bool
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_elapsed) => return false,
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

#[tokio::test]
async fn a_websocket_client_sending_a_2_mib_message_is_closed_and_the_api_grows_by_under_5_mb() {
    let api = ApiProcess::start(&[]).await;
    let ws_url = format!("ws://{}/v1/ws/prices", api.addr);
    // One stream opened and closed first, so what a stream costs anyway is in the baseline.
    let (mut warm, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    warm.close(None).await.unwrap();
    assert!(ends_within(&mut warm, Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = api.rss_bytes();

    let (socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    let (mut sink, mut stream) = socket.split();
    // The server may close before the whole message is written: a failed send is expected.
    let big = vec![0x5a_u8; 2 * 1024 * 1024];
    let _ = tokio::time::timeout(Duration::from_secs(5), sink.send(Message::binary(big))).await;
    assert!(
        ends_within(&mut stream, Duration::from_secs(5)).await,
        "the stream is still open 5 s after a 2 MiB message"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let grown = api.rss_bytes().saturating_sub(before);
    assert!(
        grown < 5 * 1024 * 1024,
        "the API grew by {} KiB for one 2 MiB message",
        grown / 1024
    );

    // A small text message is no better: the stream takes none.
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    socket.send(Message::text("hello")).await.unwrap();
    assert!(
        ends_within(&mut socket, Duration::from_secs(5)).await,
        "a text message from the client ends the stream"
    );
}

#[tokio::test]
async fn three_hundred_connections_with_unfinished_headers_are_closed_within_the_timeout() {
    const TIMEOUT_MS: u64 = 2_000;
    let api = ApiProcess::start(&[
        ("COINBEAT_API__HEADER_TIMEOUT_MS", "2000"),
        // All 300 come from one address: let the per-client cap stay out of this test.
        ("COINBEAT_API__MAX_CONNECTIONS_PER_CLIENT", "1000"),
    ])
    .await;
    let started = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..300 {
        let mut tcp = TcpStream::connect(api.addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: coinbeat\r\nX-Slow: ")
            .await
            .unwrap();
        conns.push(tcp);
    }
    let deadline = started + Duration::from_millis(TIMEOUT_MS + 2_000);
    let closes = conns.into_iter().map(|mut tcp| async move {
        let mut buf = [0u8; 512];
        let left = deadline.saturating_duration_since(Instant::now());
        // Closed: end of stream or a reset; whatever the server wrote before that (a 408) is
        // read on the way.
        loop {
            match tokio::time::timeout(left, tcp.read(&mut buf)).await {
                Err(_elapsed) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
            }
        }
    });
    let closed = futures::future::join_all(closes)
        .await
        .into_iter()
        .filter(|c| *c)
        .count();
    assert_eq!(
        closed,
        300,
        "connections closed within {} ms",
        TIMEOUT_MS + 2_000
    );

    // An idle keep-alive connection goes the same way once its next request is overdue.
    let mut tcp = TcpStream::connect(api.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: coinbeat\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "the request is served"
    );
    let idle = tokio::time::timeout(Duration::from_millis(TIMEOUT_MS + 2_000), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(idle.is_ok(), "an idle keep-alive connection is closed");
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_stream_cap_and_another_still_gets_a_stream() {
    let api = ApiProcess::start(&[("COINBEAT_API__MAX_STREAMS_PER_CLIENT", "3")]).await;
    let from = |ip: &str| {
        reqwest::Client::builder()
            .local_address(ip.parse::<IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let (a, b) = (from("127.0.0.1"), from("127.0.0.2"));
    let url = api.url("/v1/stream/prices");
    let mut held = Vec::new();
    for _ in 0..3 {
        let response = a.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        held.push(response);
    }
    let refused = a.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams", "{body}");
    assert_eq!(body["error"]["details"]["limit"], 3, "{body}");

    let other = b.get(&url).send().await.unwrap();
    assert_eq!(other.status(), 200, "another address still gets a stream");

    // A closed stream gives its slot back.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = a.get(&url).send().await.unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_admin_call_leaves_an_audit_line_with_who_what_and_the_outcome() {
    let api = ApiProcess::start(&[]).await;
    let http = reqwest::Client::new();
    let purged = http
        .post(api.url("/v1/admin/queues/prices/purge"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(purged.status(), 200);
    let refused = http
        .delete(api.url("/v1/admin/queues/prices/dead"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let logs = api.stop();
    let audit: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["target"] == "audit")
        .collect();
    assert_eq!(audit.len(), 2, "{logs}");
    let key_id = format!("key:{}", &sha256_hex(ADMIN_KEY)[..12]);
    assert_eq!(audit[0]["caller"], key_id.as_str(), "{}", audit[0]);
    assert_eq!(audit[0]["role"], "admin");
    assert_eq!(audit[0]["method"], "POST");
    assert_eq!(audit[0]["path"], "/v1/admin/queues/prices/purge");
    assert_eq!(audit[0]["status"], 200);
    assert_eq!(audit[1]["caller"], "anonymous", "{}", audit[1]);
    assert_eq!(audit[1]["status"], 401);
    assert!(
        !logs.contains(ADMIN_KEY),
        "the key itself never reaches a log"
    );
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_connection_cap_and_another_still_connects() {
    let api = ApiProcess::start(&[("COINBEAT_API__MAX_CONNECTIONS_PER_CLIENT", "5")]).await;
    let connect_from = |ip: &'static str| async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        socket.connect(api.addr).await.unwrap()
    };
    // Whether the server serves a request on `tcp` (a refused connection is closed unread).
    let served = |mut tcp: TcpStream| async move {
        let request = b"GET /healthz HTTP/1.1\r\nHost: coinbeat\r\n\r\n";
        if tcp.write_all(request).await.is_err() {
            return (false, tcp);
        }
        let mut buf = [0u8; 256];
        let answer = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
        let ok = matches!(answer, Ok(Ok(n)) if buf[..n].starts_with(b"HTTP/1.1 200"));
        (ok, tcp)
    };
    let mut held = Vec::new();
    for i in 0..5 {
        // The server gives a closed connection's place back when it sees the close, a moment
        // after the client's: the start-up probe's may still be counted for a little while.
        let deadline = Instant::now() + Duration::from_secs(2);
        let tcp = loop {
            let (ok, tcp) = served(connect_from("127.0.0.1").await).await;
            if ok {
                break tcp;
            }
            assert!(
                Instant::now() < deadline,
                "connection {i} is within the cap"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        held.push(tcp);
    }
    let (ok, _) = served(connect_from("127.0.0.1").await).await;
    assert!(!ok, "a sixth connection from the same address is closed");
    let (ok, _) = served(connect_from("127.0.0.2").await).await;
    assert!(ok, "another address still connects");
    drop(held.pop());
    // The closed connection's place comes back once the server has seen it go.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (ok, tcp) = served(connect_from("127.0.0.1").await).await;
        if ok {
            held.push(tcp);
            break;
        }
        assert!(Instant::now() < deadline, "the place never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
