//! Live-price stream clients: N SSE connections to `GET /v1/stream/prices` (every symbol, or a
//! `symbols=` filter each), each read in the
//! background for as long as the value lives. `bench api --stream-clients N` holds them open
//! idle while a route is measured; `bench stream` reads what they noted: every `price` event's
//! exchange time (`upstream_updated_at`) against the moment its bytes were read, on this
//! machine's one clock.
//!
//! The response body is HTTP/1.1 chunked; [`SseReader`] undoes the chunking and splits the
//! events across any read boundary, and only looks for the two fields it needs in each event,
//! so a client costs far less per event than the server that renders it.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
};

/// What the clients noted since the last [`StreamClients::take`].
#[derive(Debug, Clone, Default)]
pub struct Noted {
    /// Each price event's exchange time → receipt, in microseconds (sorted by `take`).
    pub latencies_us: Vec<u32>,
    /// Price events without an exchange time (a REST price has one too; none expected).
    pub untimed: u64,
    /// `lagged` events: a client fell behind the API's buffer ...
    pub lagged: u64,
    /// ... and this many price events were skipped for it, summed.
    pub missed: u64,
}

impl Noted {
    fn merge(&mut self, other: Noted) {
        self.latencies_us.extend(other.latencies_us);
        self.untimed += other.untimed;
        self.lagged += other.lagged;
        self.missed += other.missed;
    }
}

/// The open streams; dropping the value closes them.
#[derive(Debug)]
pub struct StreamClients {
    readers: JoinSet<()>,
    noted: Vec<Arc<Mutex<Noted>>>,
}

impl StreamClients {
    /// Opens `count` streams of every symbol and waits until the API has answered each with 200.
    pub async fn open(addr: SocketAddr, count: usize) -> anyhow::Result<Self> {
        Self::open_filtered(addr, vec![None; count]).await
    }

    /// Opens a stream per filter (`symbols=` of the route, `None` for every symbol) and waits
    /// until the API has answered each with 200.
    pub async fn open_filtered(
        addr: SocketAddr,
        filters: Vec<Option<String>>,
    ) -> anyhow::Result<Self> {
        let mut readers = JoinSet::new();
        let mut noted = Vec::with_capacity(filters.len());
        for (i, filter) in filters.into_iter().enumerate() {
            let path = match filter {
                Some(symbols) => format!("/v1/stream/prices?symbols={symbols}"),
                None => "/v1/stream/prices".to_owned(),
            };
            let (mut stream, mut body) = open_one(addr, &path)
                .await
                .with_context(|| format!("stream client {i}"))?;
            let own = Arc::new(Mutex::new(Noted::default()));
            noted.push(Arc::clone(&own));
            readers.spawn(async move {
                let mut reader = SseReader::default();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let now = Utc::now();
                    let mut read = Noted::default();
                    reader.feed(&body, |event| read.note(event, now));
                    lock(&own).merge(read);
                    body.clear();
                    match stream.read(&mut buf).await {
                        Ok(n) if n > 0 => body.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
            });
        }
        Ok(Self { readers, noted })
    }

    /// Streams still open (the API has not ended them).
    pub fn open_count(&self) -> usize {
        self.readers.len()
    }

    /// What every client noted since the last call (or the opening), merged, latencies sorted.
    pub fn take(&self) -> Noted {
        let mut all = Noted::default();
        for one in &self.noted {
            all.merge(std::mem::take(&mut *lock(one)));
        }
        all.latencies_us.sort_unstable();
        all
    }
}

/// Sends `GET path` and reads the response head; the stream and the body bytes that came with
/// the head.
async fn open_one(addr: SocketAddr, path: &str) -> anyhow::Result<(TcpStream, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(at) = find(&head, b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            bail!("the API closed the connection");
        }
        head.extend_from_slice(&buf[..n]);
    };
    if !head.starts_with(b"HTTP/1.1 200") {
        let line = String::from_utf8_lossy(&head);
        bail!("{}", line.lines().next().unwrap_or_default());
    }
    Ok((stream, head.split_off(end)))
}

/// One SSE event, as much of it as the clients read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SseEvent {
    /// A `price` event and its record's `upstream_updated_at`, if it has one.
    Price(Option<DateTime<Utc>>),
    /// A `lagged` event: this many events were skipped.
    Lagged(u64),
    /// Anything else (`closing`, a keep-alive comment).
    Other,
}

impl Noted {
    fn note(&mut self, event: SseEvent, received: DateTime<Utc>) {
        match event {
            SseEvent::Price(Some(at)) => {
                let us = (received - at).num_microseconds().unwrap_or(i64::MAX);
                self.latencies_us.push(us.clamp(0, u32::MAX as i64) as u32);
            }
            SseEvent::Price(None) => self.untimed += 1,
            SseEvent::Lagged(missed) => {
                self.lagged += 1;
                self.missed += missed;
            }
            SseEvent::Other => {}
        }
    }
}

/// Decodes a chunked SSE body fed in pieces of any size.
#[derive(Debug, Default)]
struct SseReader {
    /// Bytes of the chunked coding not decoded yet (a chunk not complete).
    raw: Vec<u8>,
    /// Decoded body bytes after the last complete event.
    body: Vec<u8>,
}

impl SseReader {
    /// Takes `bytes`, calls `on_event` for each event they complete.
    fn feed(&mut self, bytes: &[u8], mut on_event: impl FnMut(SseEvent)) {
        self.raw.extend_from_slice(bytes);
        // Undo the chunking: `<hex size>[;ext]\r\n<data>\r\n`, as many whole chunks as there are.
        let mut at = 0;
        while let Some(line) = find(&self.raw[at..], b"\r\n") {
            let size = std::str::from_utf8(&self.raw[at..at + line])
                .ok()
                .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok());
            let Some(size) = size else {
                // Not chunked after all (or broken): take the bytes as they are.
                self.body.extend_from_slice(&self.raw[at..]);
                at = self.raw.len();
                break;
            };
            let data = at + line + 2;
            if self.raw.len() < data + size + 2 {
                break;
            }
            self.body.extend_from_slice(&self.raw[data..data + size]);
            at = data + size + 2;
        }
        self.raw.drain(..at);
        // Then the events, each ending with a blank line.
        let mut start = 0;
        while let Some(end) = find(&self.body[start..], b"\n\n") {
            on_event(parse_event(&self.body[start..start + end]));
            start += end + 2;
        }
        self.body.drain(..start);
    }
}

/// One event's lines (`event: price`, `data: {...}`) as an [`SseEvent`].
fn parse_event(event: &[u8]) -> SseEvent {
    let Ok(text) = std::str::from_utf8(event) else {
        return SseEvent::Other;
    };
    let mut kind = "message";
    let mut data = "";
    for line in text.lines() {
        if let Some(k) = line.strip_prefix("event:") {
            kind = k.trim();
        } else if let Some(d) = line.strip_prefix("data:") {
            data = d.trim_start();
        }
    }
    let field = |name: &str| {
        let at = data.find(name)? + name.len();
        let rest = data[at..].trim_start_matches([':', ' ', '"']);
        Some(&rest[..rest.find([',', '"', '}'])?])
    };
    match kind {
        "price" => SseEvent::Price(
            field("\"upstream_updated_at\"")
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
        ),
        "lagged" => SseEvent::Lagged(
            field("\"missed\"")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        ),
        _ => SseEvent::Other,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn lock(noted: &Mutex<Noted>) -> std::sync::MutexGuard<'_, Noted> {
    noted.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(data: &str) -> String {
        format!("{:x}\r\n{data}\r\n", data.len())
    }

    #[test]
    fn events_are_read_across_chunks_and_reads_of_any_size() {
        let price = "event: price\ndata: {\"symbol\":\"S00001\",\"usd\":\"1.5\",\
                     \"upstream_updated_at\":\"2026-12-05T03:40:00.123Z\",\"source\":\"binance-ws\"}\n\n";
        let body = [
            chunk(price),
            chunk(": keep-alive\n\n"),
            chunk("event: lagged\ndata: {\"missed\":7}\n\n"),
            chunk("event: price\ndata: {\"symbol\":\"BTC\",\"upstream_updated_at\":null}\n\n"),
        ]
        .concat();
        for piece in [1, 7, 64, body.len()] {
            let mut reader = SseReader::default();
            let mut events = Vec::new();
            for bytes in body.as_bytes().chunks(piece) {
                reader.feed(bytes, |e| events.push(e));
            }
            let at = DateTime::parse_from_rfc3339("2026-12-05T03:40:00.123Z")
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(
                events,
                vec![
                    SseEvent::Price(Some(at)),
                    SseEvent::Other,
                    SseEvent::Lagged(7),
                    SseEvent::Price(None),
                ],
                "read {piece} bytes at a time"
            );
        }
    }

    #[test]
    fn a_price_is_noted_as_its_age_on_arrival() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T03:40:00.100Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut noted = Noted::default();
        noted.note(
            SseEvent::Price(Some(at)),
            at + chrono::TimeDelta::microseconds(42_500),
        );
        noted.note(SseEvent::Lagged(3), at);
        assert_eq!(noted.latencies_us, vec![42_500]);
        assert_eq!((noted.lagged, noted.missed), (1, 3));
    }
}
