//! A small HTTP/1.1 load generator: keep-alive connections, each sending one `GET` after the
//! other for a fixed time, recording every request's latency. It does far less work per request
//! than the server it measures (no client library, no header map), so on a shared machine most
//! of the CPU goes to the server.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// What one load run saw.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    /// Answers with a 2xx status.
    pub ok: u64,
    /// Answers with another status.
    pub errors: u64,
    pub elapsed: Duration,
    /// Every answered request's latency in microseconds, sorted.
    pub latencies_us: Vec<u32>,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        (self.ok + self.errors) as f64 / self.elapsed.as_secs_f64()
    }
}

/// Drives `GET path` on `connections` keep-alive connections for `duration`.
pub async fn run(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: coinbeat-bench\r\n\r\n");
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection(addr, request.clone().into_bytes(), deadline)))
        .collect();
    let mut total = LoadResult::default();
    for task in tasks {
        let one = task.await.context("a load connection panicked")??;
        total.ok += one.ok;
        total.errors += one.errors;
        total.latencies_us.extend(one.latencies_us);
    }
    total.elapsed = started.elapsed();
    total.latencies_us.sort_unstable();
    Ok(total)
}

/// One connection's loop: send, read the whole answer, repeat until the deadline.
async fn connection(
    addr: SocketAddr,
    request: Vec<u8>,
    deadline: Instant,
) -> anyhow::Result<LoadResult> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let mut out = LoadResult {
        latencies_us: Vec::with_capacity(1 << 16),
        ..LoadResult::default()
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let sent = Instant::now();
        if sent >= deadline {
            return Ok(out);
        }
        stream.write_all(&request).await?;
        let status = read_response(&mut stream, &mut buf).await?;
        out.latencies_us
            .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
        if (200..300).contains(&status) {
            out.ok += 1;
        } else {
            out.errors += 1;
        }
    }
}

/// Reads one response with a `content-length` body; returns its status code.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<u16> {
    let mut filled = 0;
    let (head_end, status, body_len) = loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        filled += n;
        if let Some(end) = find(&buf[..filled], b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).context("response head is not UTF-8")?;
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .context("response without a status")?;
            let len = head
                .split("\r\n")
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .context("response without content-length (chunked answers are not supported)")?;
            break (end + 4, status, len);
        }
    };
    let total = head_end + body_len;
    if buf.len() < total {
        buf.resize(total, 0);
    }
    while filled < total {
        let n = stream.read(&mut buf[filled..total]).await?;
        if n == 0 {
            bail!("the server closed the connection mid-body");
        }
        filled += n;
    }
    Ok(status)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
