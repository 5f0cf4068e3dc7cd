//! [`PriceEvents`]: the in-process fan-out of price updates to the live streams.
//!
//! The API process has one subscription to `{prefix}:events:prices` (the follower in
//! [`crate::live_prices`]); every record it applies to the copy (newer than what the copy held)
//! is sent once on a `tokio::sync::broadcast` channel, and every stream client holds a receiver.
//! The channel keeps the last `api.stream_buffer` events: a client that falls further behind is
//! not waited for, it skips ahead and is told how many it missed, so a slow client never slows
//! the follower or the other clients.
//!
//! Each event carries its record and, once the first client sends it, the record's JSON (the
//! shape of `GET /v1/prices/{coin}`, its ages as of that first sending): every other client
//! sends the same text, so a thousand streams cost one serialisation per event, not a thousand.
//!
//! The number of streams is bounded by `api.max_stream_clients` (a permit per stream, held for
//! as long as it runs), and by `api.max_streams_per_client` per client, so one address cannot
//! take every permit; every stream ends when the server shuts down.

use std::{
    net::IpAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use chrono::Utc;
use coinbeat_shared::settings::ApiSettings;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use crate::{
    ApiError, AppState,
    hardening::client_slots::{ClientSlots, Slot},
    price_json::Priced,
};

/// One price update on its way to the streams.
#[derive(Debug)]
pub struct PriceEvent {
    pub record: Arc<Priced>,
    /// The record as `GET /v1/prices/{coin}` shows it, rendered by the first stream to send it.
    json: OnceLock<Arc<str>>,
}

impl PriceEvent {
    pub fn new(record: Arc<Priced>) -> Self {
        Self {
            record,
            json: OnceLock::new(),
        }
    }

    /// The record's JSON (a [`crate::routes::prices::PriceView`]), rendered once and shared
    /// by every stream.
    pub fn json(&self, state: &AppState) -> Arc<str> {
        Arc::clone(self.json.get_or_init(|| {
            let mut json = Vec::new();
            let fresh_for = state.settings().prices.fresh_for();
            self.record
                .write(&mut json, Utc::now(), fresh_for, false, b"");
            String::from_utf8(json)
                .expect("price views render as UTF-8")
                .into()
        }))
    }
}

/// The fan-out hub of one API process.
#[derive(Debug)]
pub struct PriceEvents {
    sender: broadcast::Sender<Arc<PriceEvent>>,
    /// One permit per open stream.
    clients: Arc<Semaphore>,
    max_clients: usize,
    /// Streams per client.
    per_client: ClientSlots,
    keepalive: Duration,
    /// Cancelled when the server shuts down: every stream ends.
    closing: CancellationToken,
}

/// What an open stream holds: its receiver, its client permit, and the shutdown signal.
#[derive(Debug)]
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<PriceEvent>>,
    pub closing: CancellationToken,
    pub keepalive: Duration,
    /// Released when the stream ends, making room for another client.
    _permit: OwnedSemaphorePermit,
    /// The client's own slot, given back at the same time.
    _slot: Option<Slot>,
}

impl PriceEvents {
    pub fn new(settings: &ApiSettings) -> Self {
        let (sender, _) = broadcast::channel(settings.stream_buffer.max(1));
        Self {
            sender,
            clients: Arc::new(Semaphore::new(settings.max_stream_clients)),
            max_clients: settings.max_stream_clients,
            per_client: ClientSlots::new(settings.max_streams_per_client),
            keepalive: Duration::from_millis(settings.stream_keepalive_ms.max(1)),
            closing: CancellationToken::new(),
        }
    }

    /// Sends `record` to every open stream. Never waits: with no stream open it goes nowhere.
    pub fn publish(&self, record: Arc<Priced>) {
        let _ = self.sender.send(Arc::new(PriceEvent::new(record)));
    }

    /// A new stream's subscription for `client`, or 429: `too_many_streams` when the client
    /// holds `api.max_streams_per_client`, `too_many_stream_clients` when
    /// `api.max_stream_clients` streams are open (503 once the server is shutting down).
    /// Events published from this call on reach the subscription.
    pub fn subscribe(&self, client: Option<IpAddr>) -> Result<Subscription, ApiError> {
        if self.closing.is_cancelled() {
            return Err(ApiError::ShuttingDown);
        }
        let slot = client
            .map(|client| {
                self.per_client
                    .take(client)
                    .ok_or(ApiError::TooManyStreams {
                        limit: self.per_client.max_per_client(),
                    })
            })
            .transpose()?;
        let permit = Arc::clone(&self.clients).try_acquire_owned().map_err(|_| {
            ApiError::TooManyStreamClients {
                limit: self.max_clients,
            }
        })?;
        Ok(Subscription {
            receiver: self.sender.subscribe(),
            closing: self.closing.clone(),
            keepalive: self.keepalive,
            _permit: permit,
            _slot: slot,
        })
    }

    /// Streams open right now.
    pub fn clients(&self) -> usize {
        self.max_clients - self.clients.available_permits()
    }

    /// Ends every stream (the server is shutting down) and refuses new ones.
    pub fn close(&self) {
        self.closing.cancel();
    }
}
