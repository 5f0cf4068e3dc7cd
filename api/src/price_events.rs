//! [`PriceEvents`]: the in-process fan-out of price updates to the live streams.
//!
//! The API process has one subscription to `{prefix}:events:prices` (the follower in
//! [`crate::live_prices`]); every record it applies to the copy (newer than what the copy held)
//! is sent once on a `tokio::sync::broadcast` channel, and every stream client holds a receiver.
//! The channel keeps the last `api.stream_buffer` events: a client that falls further behind is
//! not waited for, it skips ahead and is told how many it missed, so a slow client never slows
//! the follower or the other clients.
//!
//! The number of stream clients is bounded by `api.max_stream_clients` (a permit per client,
//! held for as long as its stream runs), and every stream ends when the server shuts down.

use std::{sync::Arc, time::Duration};

use coinbeat_shared::{cache::PriceRecord, settings::ApiSettings};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use crate::ApiError;

/// The fan-out hub of one API process.
#[derive(Debug)]
pub struct PriceEvents {
    sender: broadcast::Sender<Arc<PriceRecord>>,
    /// One permit per open stream.
    clients: Arc<Semaphore>,
    max_clients: usize,
    keepalive: Duration,
    /// Cancelled when the server shuts down: every stream ends.
    closing: CancellationToken,
}

/// What an open stream holds: its receiver, its client permit, and the shutdown signal.
#[derive(Debug)]
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<PriceRecord>>,
    pub closing: CancellationToken,
    pub keepalive: Duration,
    /// Released when the stream ends, making room for another client.
    _permit: OwnedSemaphorePermit,
}

impl PriceEvents {
    pub fn new(settings: &ApiSettings) -> Self {
        let (sender, _) = broadcast::channel(settings.stream_buffer.max(1));
        Self {
            sender,
            clients: Arc::new(Semaphore::new(settings.max_stream_clients)),
            max_clients: settings.max_stream_clients,
            keepalive: Duration::from_millis(settings.stream_keepalive_ms.max(1)),
            closing: CancellationToken::new(),
        }
    }

    /// Sends `record` to every open stream. Never waits: with no stream open it goes nowhere.
    pub fn publish(&self, record: Arc<PriceRecord>) {
        let _ = self.sender.send(record);
    }

    /// A new stream's subscription, or 429 `too_many_stream_clients` when
    /// `api.max_stream_clients` streams are open (503 once the server is shutting down).
    /// Events published from this call on reach the subscription.
    pub fn subscribe(&self) -> Result<Subscription, ApiError> {
        if self.closing.is_cancelled() {
            return Err(ApiError::ShuttingDown);
        }
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
