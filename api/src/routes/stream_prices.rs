//! `GET /v1/stream/prices[?symbols=BTC,ETH]`: live prices as Server-Sent Events.
//!
//! Events, each `data` one JSON document:
//!
//! - `event: price`: a record in the shape of `GET /v1/prices/{coin}` (decimal strings,
//!   `fetched_at`, `source`, `age_seconds`, `stale` as of the first stream's sending: one
//!   rendering of an update is shared by every stream). The snapshot of the filtered
//!   symbols (the tracked set without a filter) comes first, then every update.
//! - `event: lagged`, `{"missed": n}`: the client fell behind and `n` events (of any symbol)
//!   were skipped; the newest follow.
//! - `event: closing`, `{"reason": "shutdown"}`: the server is shutting down; the response ends.
//!
//! A comment line (`: keep-alive`) every `api.stream_keepalive_ms` on a quiet stream.

use std::convert::Infallible;

use axum::{
    Extension,
    extract::{Query, State, rejection::QueryRejection},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{Stream, stream};
use serde_json::json;

use crate::{
    ApiError, AppState,
    hardening::client_ip::ClientIp,
    price_feed::{FeedItem, PriceFeed, StreamQuery},
};

/// Opens the stream: 422 for a bad filter and 429 when `api.max_stream_clients` streams are
/// open, both before anything is streamed.
pub async fn stream(
    State(state): State<AppState>,
    client: Option<Extension<ClientIp>>,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let feed = PriceFeed::open(&state, &query, client.map(|Extension(c)| c)).await?;
    Ok(sse(feed))
}

/// `feed` as Server-Sent Events (also `GET /v1/ws/prices` without a WebSocket handshake).
pub(crate) fn sse(feed: PriceFeed) -> Response {
    let keepalive = KeepAlive::new()
        .interval(feed.keepalive())
        .text("keep-alive");
    Sse::new(events(feed)).keep_alive(keepalive).into_response()
}

fn events(feed: PriceFeed) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(feed, |mut feed| async move {
        let event = match feed.next().await? {
            FeedItem::Price(event) => Event::default().event("price").data(&*feed.render(&event)),
            FeedItem::Lagged(missed) => Event::default()
                .event("lagged")
                .json_data(json!({ "missed": missed }))
                .expect("a count serializes"),
            FeedItem::Closing => Event::default()
                .event("closing")
                .json_data(json!({ "reason": "shutdown" }))
                .expect("a reason serializes"),
        };
        Some((Ok(event), feed))
    })
}
