//! `GET /v1/ws/prices[?symbols=BTC,ETH]`: live prices over a WebSocket.
//!
//! The same feed as `GET /v1/stream/prices` ([`crate::price_feed`]), one JSON text message per
//! item: `{"event": "price", "data": {...}}` (the shape of `GET /v1/prices/{symbol}`),
//! `{"event": "lagged", "data": {"missed": n}}`, and on shutdown
//! `{"event": "closing", "data": {"reason": "shutdown"}}` followed by a close frame (1001, going
//! away). A ping every `api.stream_keepalive_ms` on a quiet stream. What the client sends is
//! ignored, except a close, which ends the stream. A client that does not take a message within
//! two keep-alive intervals is dropped.

use std::time::Duration;

use axum::{
    extract::{
        Query, State,
        rejection::QueryRejection,
        ws::{
            CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code,
            rejection::WebSocketUpgradeRejection,
        },
    },
    response::{IntoResponse, Response},
};
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use serde_json::json;

use crate::{
    ApiError, AppState,
    price_feed::{FeedItem, PriceFeed, StreamQuery},
    routes::prices::PriceView,
};

/// Validates the filter (422) and takes a client permit (429) before upgrading.
pub async fn upgrade(
    State(state): State<AppState>,
    query: Result<Query<StreamQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let upgrade = upgrade.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let feed = PriceFeed::open(&state, &query).await?;
    Ok(upgrade
        .on_upgrade(move |socket| serve(state, feed, socket))
        .into_response())
}

async fn serve(state: AppState, mut feed: PriceFeed, socket: WebSocket) {
    let keepalive = feed.keepalive();
    let send_timeout = keepalive * 2;
    let (mut sink, mut incoming) = socket.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    loop {
        let message = tokio::select! {
            item = feed.next() => match item {
                Some(FeedItem::Price(record)) => text("price", &PriceView::new(&record, Utc::now(), &state)),
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

fn text(event: &str, data: &impl serde::Serialize) -> Message {
    let body = serde_json::to_string(&json!({ "event": event, "data": data }))
        .expect("price events serialize");
    Message::text(body)
}
