//! The price records a stream-worker publishes on the price event channel, as a test
//! subscriber reads them (the API's follower reads the same channel).

#![allow(dead_code)] // Each test binary uses a different part.

use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use coinbeat_shared::keys::Keys;
use futures::{Stream, StreamExt};
use serde_json::Value;

pub struct Published {
    messages: Pin<Box<dyn Stream<Item = redis::Msg> + Send>>,
}

impl Published {
    /// Subscribes before anything is started, so no record is missed.
    pub async fn subscribe(redis_url: &str, keys: &Keys) -> Self {
        let mut pubsub = redis::Client::open(redis_url)
            .unwrap()
            .get_async_pubsub()
            .await
            .unwrap();
        pubsub.subscribe(keys.price_events()).await.unwrap();
        Self {
            messages: Box::pin(pubsub.into_on_message()),
        }
    }

    /// The next record published, or `None` when none comes within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        let message = tokio::time::timeout(within, self.messages.next())
            .await
            .ok()??;
        let payload: String = message.get_payload().unwrap();
        Some(serde_json::from_str(&payload).unwrap())
    }
}

/// A published record's exchange time (`upstream_updated_at`).
pub fn event_time(record: &Value) -> DateTime<Utc> {
    record["upstream_updated_at"]
        .as_str()
        .unwrap_or_else(|| panic!("no event time in {record}"))
        .parse()
        .unwrap()
}
