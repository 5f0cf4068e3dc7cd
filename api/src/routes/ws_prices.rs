//! `GET /v1/ws/prices[?symbols=BTC,ETH]`: live prices over a WebSocket.
//!
//! The same feed as `GET /v1/stream/prices` ([`crate::price_feed`]), one JSON text message per
//! item: `{"event": "price", "data": {...}}` (the shape of `GET /v1/prices/{coin}`),
//! `{"event": "lagged", "data": {"missed": n}}`, and on shutdown
//! `{"event": "closing", "data": {"reason": "shutdown"}}` followed by a close frame (1001, going
//! away). A ping every `api.stream_keepalive_ms` on a quiet stream. A client that does not take
//! a message within two keep-alive intervals is dropped.
//!
//! A plain GET (no `Upgrade` header) gets the same feed as Server-Sent Events, as
//! `GET /v1/stream/prices` gives it: a client that cannot speak WebSocket is not refused.
//!
//! The stream is one-way: a client may answer pings and close, nothing else. A text or binary
//! message from it closes the stream (1008, policy), and frames and messages are capped at
//! [`MAX_CLIENT_FRAME_BYTES`], so a client cannot make the API buffer what it would ignore
//! anyway (axum's defaults would hold up to a 64 MiB message per connection).

use std::time::Duration;

use axum::{
    Extension,
    extract::{
        Query, State,
        rejection::QueryRejection,
        ws::{
            CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code,
            rejection::WebSocketUpgradeRejection,
        },
    },
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use futures::{SinkExt, StreamExt};
use serde_json::json;

use crate::{
    ApiError, AppState,
    hardening::client_ip::ClientIp,
    price_feed::{FeedItem, PriceFeed, StreamQuery},
    server::ConnectionHold,
};

/// The largest frame or message a client may send: room for a control frame (at most 125
/// bytes by the protocol) and a close reason, nothing more.
pub const MAX_CLIENT_FRAME_BYTES: usize = 1024;
/// Per-connection read buffer; tungstenite's default is 128 KiB, which 1,000 idle streams
/// would hold for nothing.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Bytes queued for a client past which sends fail rather than buffer (a client that stops
/// reading is dropped by the send timeout long before this).
const MAX_WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// Validates the filter (422) and takes a client permit (429) before upgrading. A GET that
/// asks for no upgrade at all (no `Upgrade` header: curl, a browser, an HTTP client) gets the
/// same feed as Server-Sent Events; a handshake that is wrong is 400.
pub async fn upgrade(
    State(state): State<AppState>,
    client: Option<Extension<ClientIp>>,
    hold: Option<Extension<ConnectionHold>>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(_) if !headers.contains_key(header::UPGRADE) => {
            let feed = PriceFeed::open(&state, &query, client.map(|Extension(c)| c)).await?;
            return Ok(super::stream_prices::sse(feed));
        }
        Err(e) => return Err(ApiError::BadRequest(e.body_text())),
    };
    let feed = PriceFeed::open(&state, &query, client.map(|Extension(c)| c)).await?;
    Ok(upgrade
        .max_frame_size(MAX_CLIENT_FRAME_BYTES)
        .max_message_size(MAX_CLIENT_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        // Every message is sent (and flushed) on its own; no buffer to fill first.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            // The socket is still its connection: counted, and waited for at shutdown.
            let _hold = hold;
            serve(feed, socket).await;
        })
        .into_response())
}

async fn serve(mut feed: PriceFeed, socket: WebSocket) {
    let keepalive = feed.keepalive();
    let send_timeout = keepalive * 2;
    let (mut sink, mut incoming) = socket.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    loop {
        let message = tokio::select! {
            item = feed.next() => match item {
                Some(FeedItem::Price(event)) => price_text(&feed.render(&event)),
                Some(FeedItem::Lagged(missed)) => text("lagged", &json!({ "missed": missed })),
                Some(FeedItem::Closing) => {
                    let _ = send(&mut sink, text("closing", &json!({ "reason": "shutdown" })), send_timeout).await;
                    let _ = send(&mut sink, Message::Close(Some(CloseFrame {
                        code: close_code::AWAY,
                        reason: "server shutting down".into(),
                    })), send_timeout).await;
                    return;
                }
                None => return,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
            received = incoming.next() => match received {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    let _ = send(&mut sink, Message::Close(Some(CloseFrame {
                        code: close_code::POLICY,
                        reason: "this stream takes no messages".into(),
                    })), send_timeout).await;
                    return;
                }
                Some(Ok(_)) => continue,
            },
        };
        if !send(&mut sink, message, send_timeout).await {
            return;
        }
        // Anything sent counts as a sign of life; the next ping is one interval away.
        ping.reset();
    }
}

/// Sends one message; false when the client is gone or did not take it within `timeout`.
async fn send(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    message: Message,
    timeout: Duration,
) -> bool {
    matches!(
        tokio::time::timeout(timeout, sink.send(message)).await,
        Ok(Ok(()))
    )
}

/// `{"event":"price","data":<the record's shared JSON>}`, without parsing that JSON again.
fn price_text(data: &str) -> Message {
    Message::text(format!(r#"{{"event":"price","data":{data}}}"#))
}

fn text(event: &str, data: &impl serde::Serialize) -> Message {
    let body = serde_json::to_string(&json!({ "event": event, "data": data }))
        .expect("price events serialize");
    Message::text(body)
}
