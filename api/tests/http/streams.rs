//! The live price streams, `GET /v1/stream/prices` (SSE) and `GET /v1/ws/prices` (WebSocket):
//! a write through the worker's write path reaches them within a second in the shape of
//! `GET /v1/prices/{symbol}`, the filter holds, a lagging client skips ahead while a fast one
//! misses nothing, the client bound answers 429, quiet streams get keep-alives, and every stream
//! ends when the server shuts down.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite};

use crate::support::{Api, assert_error, record, wait_served_from_copy};

/// What an SSE stream sent: an event with its JSON data, or a comment (a keep-alive).
#[derive(Debug, PartialEq)]
enum Sse {
    Event(String, Value),
    Comment(String),
}

/// A reader of one SSE response.
struct SseClient {
    response: reqwest::Response,
    buf: String,
}

impl SseClient {
    async fn open(api: &Api, path: &str) -> Self {
        let response = api
            .http
            .get(api.url(path))
            .send()
            .await
            .expect("GET stream");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "an SSE response"
        );
        Self {
            response,
            buf: String::new(),
        }
    }

    /// The next item, or `None` when the response ended; panics past `within`.
    async fn next_item(&mut self, within: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                return Some(parse_block(&block));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("nothing within {within:?}; have {:?}", self.buf))
                .expect("read the stream");
            match chunk {
                Some(bytes) => self.buf.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => {
                    assert!(self.buf.is_empty(), "a cut event: {:?}", self.buf);
                    return None;
                }
            }
        }
    }

    /// The next event (keep-alives skipped).
    async fn next_event(&mut self, within: Duration) -> (String, Value) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_item(left).await.expect("the stream ended") {
                Sse::Event(name, data) => return (name, data),
                Sse::Comment(_) => {}
            }
        }
    }
}

fn parse_block(block: &str) -> Sse {
    let mut name = String::from("message");
    let mut data = String::new();
    for line in block.lines() {
        if let Some(comment) = line.strip_prefix(':') {
            return Sse::Comment(comment.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("event:") {
            name = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    let data = serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {block:?}"));
    Sse::Event(name, data)
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn ws_open(api: &Api, path: &str) -> Ws {
    let url = api.url(path).replacen("http://", "ws://", 1);
    let (ws, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket handshake");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws
}

/// The next text message as (event, data); pings and pongs skipped.
async fn ws_next(ws: &mut Ws, within: Duration) -> (String, Value) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no WebSocket message within {within:?}"))
            .expect("the WebSocket ended")
            .expect("read the WebSocket");
        match message {
            tungstenite::Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                return (
                    value["event"].as_str().unwrap().to_owned(),
                    value["data"].clone(),
                );
            }
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => {}
            other => panic!("unexpected WebSocket message {other:?}"),
        }
    }
}

/// Writes BTC and waits until the API's copy (and so its subscription) is current, so a write
/// from now on is an event the streams get.
async fn start_following(api: &Api) {
    api.write(&[record(
        "BTC",
        "60000.1",
        Utc::now() - TimeDelta::seconds(30),
    )])
    .await;
    wait_served_from_copy(api, "/v1/prices/BTC").await;
}

/// Asserts `event` is the record `GET /v1/prices/BTC` serves now, field by field (the ages may
/// differ by the time that passed between the event's rendering and the route's answer).
async fn assert_same_as_the_price_route(api: &Api, event: &Value) {
    let (status, served) = api.get("/v1/prices/BTC").await;
    assert_eq!(status, StatusCode::OK, "{served}");
    let (event_obj, served_obj) = (event.as_object().unwrap(), served.as_object().unwrap());
    let mut event_keys: Vec<&String> = event_obj.keys().collect();
    let mut served_keys: Vec<&String> = served_obj.keys().collect();
    event_keys.sort();
    served_keys.sort();
    assert_eq!(event_keys, served_keys, "the same fields");
    for (key, value) in served_obj {
        match key.as_str() {
            "age_seconds" => {}
            "age_ms" => {
                let (event_ms, served_ms) = (event_obj[key].as_u64(), value.as_u64());
                let passed = served_ms.unwrap() - event_ms.unwrap();
                assert!(passed < 2_000, "age_ms {event_ms:?} then {served_ms:?}");
            }
            _ => assert_eq!(&event_obj[key], value, "{key}"),
        }
    }
}

#[tokio::test]
async fn an_sse_client_gets_the_snapshot_then_a_write_within_a_second_shaped_like_the_price_route()
{
    let api = Api::start().await;
    start_following(&api).await;
    let mut sse = SseClient::open(&api, "/v1/stream/prices?symbols=BTC").await;

    let (name, snapshot) = sse.next_event(Duration::from_secs(2)).await;
    assert_eq!(name, "price");
    assert_eq!(snapshot["usd"], "60000.1", "the snapshot comes first");

    let written = Instant::now();
    api.write(&[record("BTC", "61234.000000012345", Utc::now())])
        .await;
    let (name, update) = sse.next_event(Duration::from_secs(1)).await;
    assert!(written.elapsed() < Duration::from_secs(1));
    assert_eq!(name, "price");
    assert_eq!(
        update["usd"], "61234.000000012345",
        "exact digits: {update}"
    );
    assert_eq!(update["source"], "coingecko");
    assert_eq!(update["stale"], false);
    assert_same_as_the_price_route(&api, &update).await;
}

#[tokio::test]
async fn a_stream_with_vs_sends_each_price_in_that_currency_too() {
    let api = Api::start().await;
    start_following(&api).await;
    crate::rates::write_rate(&api, "EUR", "0.5", TimeDelta::minutes(1)).await;
    let mut sse = SseClient::open(&api, "/v1/stream/prices?symbols=BTC&vs=eur").await;
    let (_, snapshot) = sse.next_event(Duration::from_secs(2)).await;
    assert_eq!(snapshot["usd"], "60000.1");
    assert_eq!(snapshot["vs"]["currency"], "EUR", "{snapshot}");
    assert_eq!(snapshot["vs"]["price"], "30000.05", "{snapshot}");
    api.write(&[record("BTC", "61234.5", Utc::now())]).await;
    let (_, update) = sse.next_event(Duration::from_secs(1)).await;
    assert_eq!(update["vs"]["price"], "30617.25", "{update}");
    assert_eq!(update["vs"]["rate_source"], "alphavantage");

    // A currency with no rate is refused before anything is streamed.
    let (status, body) = api.get("/v1/stream/prices?vs=gbp").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "rate_unavailable");
}

#[tokio::test]
async fn a_websocket_client_gets_the_snapshot_then_a_write_within_a_second_shaped_like_the_price_route()
 {
    let api = Api::start().await;
    start_following(&api).await;
    let mut ws = ws_open(&api, "/v1/ws/prices?symbols=btc").await;

    let (name, snapshot) = ws_next(&mut ws, Duration::from_secs(2)).await;
    assert_eq!(name, "price");
    assert_eq!(snapshot["usd"], "60000.1");

    let written = Instant::now();
    api.write(&[record("BTC", "61234.5", Utc::now())]).await;
    let (name, update) = ws_next(&mut ws, Duration::from_secs(1)).await;
    assert!(written.elapsed() < Duration::from_secs(1));
    assert_eq!(name, "price");
    assert_eq!(update["usd"], "61234.5");
    assert_same_as_the_price_route(&api, &update).await;
}

#[tokio::test]
async fn a_filtered_stream_sends_only_the_symbols_asked_for() {
    let api = Api::start().await;
    start_following(&api).await;
    let mut sse = SseClient::open(&api, "/v1/stream/prices?symbols=ETH,SOL").await;
    let mut ws = ws_open(&api, "/v1/ws/prices?symbols=ETH,SOL").await;

    let now = Utc::now();
    api.write(&[record("BTC", "61000", now)]).await;
    api.write(&[record("ETH", "3521.5", now)]).await;
    api.write(&[record("AVAX", "31.5", now)]).await;
    api.write(&[record("SOL", "150.25", now)]).await;

    for _ in 0..2 {
        let (_, sse_event) = sse.next_event(Duration::from_secs(2)).await;
        let (_, ws_event) = ws_next(&mut ws, Duration::from_secs(2)).await;
        assert_eq!(sse_event["symbol"], ws_event["symbol"]);
        assert!(
            ["ETH", "SOL"].contains(&sse_event["symbol"].as_str().unwrap()),
            "only the filter's symbols: {sse_event}"
        );
    }
    // BTC and AVAX were written between ETH and SOL: had they passed the filter, they would
    // have been among those two; and the next event is the next ETH write.
    api.write(&[record("BTC", "62000", Utc::now())]).await;
    api.write(&[record("ETH", "3600", Utc::now())]).await;
    let (_, later) = sse.next_event(Duration::from_secs(2)).await;
    assert_eq!(
        (&later["symbol"], &later["usd"]),
        (&Value::from("ETH"), &Value::from("3600"))
    );
}

#[tokio::test]
async fn a_bad_symbol_in_the_filter_is_422_before_any_stream_starts() {
    let api = Api::start().await;
    let (status, body) = api.get("/v1/stream/prices?symbols=BTC,B-TC").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "invalid_symbol");
    let (status, body) = api.get("/v1/stream/prices?symbols=,").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "invalid_symbol");

    let url = api
        .url("/v1/ws/prices?symbols=B-TC")
        .replacen("http://", "ws://", 1);
    match tokio_tungstenite::connect_async(url).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_error(&body, "invalid_symbol");
        }
        other => panic!("expected a 422, got {other:?}"),
    }
}

#[tokio::test]
async fn a_lagging_client_skips_ahead_and_is_told_how_many_it_missed_while_a_fast_one_gets_every_update()
 {
    const BATCH: usize = 12;
    const BATCHES: usize = 1_000;
    let api = Api::start_with(|s| s.api.stream_buffer = 16).await;
    start_following(&api).await;
    let mut fast = SseClient::open(&api, "/v1/stream/prices").await;

    // The slow client: a small receive buffer, the response head read, then nothing.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4_096).unwrap();
    let addr = api.base.trim_start_matches("http://").parse().unwrap();
    let mut slow = socket.connect(addr).await.unwrap();
    slow.write_all(b"GET /v1/stream/prices HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        slow.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );

    let symbols: Vec<String> = (0..BATCH).map(|i| format!("LAG{i}")).collect();
    let start = Utc::now() - TimeDelta::hours(1);
    let mut fast_got = 0;
    for batch in 0..BATCHES {
        let at = start + TimeDelta::milliseconds(batch as i64);
        let usd = format!("{batch}.5");
        let records: Vec<_> = symbols.iter().map(|s| record(s, &usd, at)).collect();
        api.write(&records).await;
        let mut seen = 0;
        while seen < BATCH {
            let (name, data) = fast.next_event(Duration::from_secs(5)).await;
            assert_eq!(name, "price", "the fast client never lags: {data}");
            if data["symbol"] == "BTC" {
                continue; // the snapshot
            }
            assert_eq!(data["usd"], usd.as_str(), "batch {batch} in order");
            seen += 1;
        }
        fast_got += seen;
    }
    assert_eq!(
        fast_got,
        BATCH * BATCHES,
        "the fast client got every update"
    );

    // Now the slow client reads what it was sent: somewhere it was told it lagged, and it
    // ends with the newest batch.
    let mut text = String::new();
    let mut buf = vec![0u8; 64 * 1024];
    let last = format!("\"usd\":\"{}.5\"", BATCHES - 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while text.matches(&last).count() < BATCH {
        assert!(Instant::now() < deadline, "the slow client never caught up");
        let n = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf))
            .await
            .expect("the slow client gets the newest events")
            .unwrap();
        assert!(n > 0, "the server closed the slow client");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let lagged: Vec<u64> = text
        .split("event: lagged\ndata: ")
        .skip(1)
        .map(|rest| {
            let line = rest.lines().next().unwrap();
            serde_json::from_str::<Value>(line).unwrap()["missed"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(!lagged.is_empty(), "the slow client was told it lagged");
    assert!(lagged.iter().all(|&n| n > 0), "{lagged:?}");
    let delivered = text.matches("event: price").count();
    assert!(
        delivered < BATCH * BATCHES,
        "the slow client skipped events ({delivered} delivered)"
    );
}

#[tokio::test]
async fn past_max_stream_clients_a_new_stream_is_429_until_one_closes() {
    let api = Api::start_with(|s| {
        s.api.max_stream_clients = 2;
        s.api.stream_keepalive_ms = 100;
    })
    .await;
    let first = SseClient::open(&api, "/v1/stream/prices").await;
    let _second = ws_open(&api, "/v1/ws/prices").await;

    let (status, body) = api.get("/v1/stream/prices").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_error(&body, "too_many_stream_clients");
    assert_eq!(body["error"]["details"]["limit"], 2);
    let url = api.url("/v1/ws/prices").replacen("http://", "ws://", 1);
    match tokio_tungstenite::connect_async(url).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS)
        }
        other => panic!("expected a 429, got {other:?}"),
    }

    // A closed stream gives its place back (noticed at the latest by its next keep-alive).
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = api
            .http
            .get(api.url("/v1/stream/prices"))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            break;
        }
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            Instant::now() < deadline,
            "the closed stream's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_quiet_stream_gets_keepalives() {
    let api = Api::start_with(|s| s.api.stream_keepalive_ms = 200).await;
    let mut sse = SseClient::open(&api, "/v1/stream/prices").await;
    assert_eq!(
        sse.next_item(Duration::from_secs(2)).await,
        Some(Sse::Comment("keep-alive".into()))
    );
    let mut ws = ws_open(&api, "/v1/ws/prices").await;
    let ping = tokio::time::timeout(Duration::from_secs(2), ws.next())
        .await
        .expect("a ping within two intervals")
        .unwrap()
        .unwrap();
    assert!(matches!(ping, tungstenite::Message::Ping(_)), "{ping:?}");
}

#[tokio::test]
async fn streams_end_with_a_closing_event_when_the_server_shuts_down() {
    let mut api = Api::start().await;
    let mut sse = SseClient::open(&api, "/v1/stream/prices").await;
    let mut ws = ws_open(&api, "/v1/ws/prices").await;

    api.shutdown.cancel();
    let (name, data) = sse.next_event(Duration::from_secs(5)).await;
    assert_eq!(
        (name.as_str(), &data["reason"]),
        ("closing", &Value::from("shutdown"))
    );
    assert_eq!(
        sse.next_item(Duration::from_secs(5)).await,
        None,
        "the response ends"
    );

    let (name, _) = ws_next(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(name, "closing");
    let close = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("a close frame")
        .unwrap()
        .unwrap();
    match close {
        tungstenite::Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1001, "going away")
        }
        other => panic!("expected a close frame, got {other:?}"),
    }

    let server = api.server.take().unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops although streams were open")
        .unwrap()
        .expect("stops cleanly");
}
