//! Idle live-price stream clients for `bench api --stream-clients N`: N SSE connections to
//! `GET /v1/stream/prices`, each read and discarded in the background (snapshot, keep-alives)
//! for as long as the value lives, so the API holds N open streams while a route is measured.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
};

/// The open streams; dropping the value closes them.
#[derive(Debug)]
pub struct StreamClients {
    readers: JoinSet<()>,
}

impl StreamClients {
    /// Opens `count` streams and waits until the API has answered each with 200.
    pub async fn open(addr: SocketAddr, count: usize) -> anyhow::Result<Self> {
        let mut readers = JoinSet::new();
        for i in 0..count {
            let mut stream = TcpStream::connect(addr)
                .await
                .with_context(|| format!("stream client {i}: connecting to {addr}"))?;
            stream
                .write_all(
                    format!("GET /v1/stream/prices HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
                )
                .await?;
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    bail!("stream client {i}: the API closed the connection");
                }
                head.extend_from_slice(&buf[..n]);
            }
            if !head.starts_with(b"HTTP/1.1 200") {
                let line = String::from_utf8_lossy(&head);
                bail!(
                    "stream client {i}: {}",
                    line.lines().next().unwrap_or_default()
                );
            }
            readers.spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
        Ok(Self { readers })
    }

    /// Streams still open (the API has not ended them).
    pub fn open_count(&self) -> usize {
        self.readers.len()
    }
}
