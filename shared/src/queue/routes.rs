//! [`QueueRedis`]: which Redis each queue lives on. By default every queue shares the
//! deployment's Redis (`redis.url`); a queue with `queues.overrides.<queue>.redis_url` lives
//! on its own Redis or Redis Cluster, and everything that touches the queue (producers, its
//! workers, stats, lookups, dead letters, purge, cleanup, the API, the CLI) asks this map for
//! the queue's connection. Opened from settings by `redis_conn::connect_queues`.

use std::collections::BTreeMap;

use super::{conn::QueueConn, memory::MemoryWatch};
use crate::jobs::QueueName;

/// One Redis that holds queues, with its memory watch (the producer's high-water mark).
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) conn: QueueConn,
    pub(crate) memory: MemoryWatch,
}

impl Route {
    fn new(conn: QueueConn) -> Self {
        Self {
            memory: MemoryWatch::new(conn.clone()),
            conn,
        }
    }
}

/// The queues' connections. Cheap to clone; clones share the connections.
#[derive(Debug, Clone)]
pub struct QueueRedis {
    default: Route,
    /// Queues with a Redis of their own, by name; `label` says which URL (for reports).
    own: BTreeMap<String, (String, Route)>,
}

impl QueueRedis {
    /// Every queue on `default`.
    pub fn new(default: impl Into<QueueConn>) -> Self {
        Self {
            default: Route::new(default.into()),
            own: BTreeMap::new(),
        }
    }

    /// `queue` on `conn` instead; `label` names that Redis in reports (a URL without its
    /// password).
    pub fn with(mut self, queue: &str, label: impl Into<String>, conn: QueueConn) -> Self {
        self.own
            .insert(queue.to_owned(), (label.into(), Route::new(conn)));
        self
    }

    /// The connection of `queue`.
    pub fn conn(&self, queue: &QueueName) -> QueueConn {
        self.route(queue).conn.clone()
    }

    /// The connection of the deployment's Redis, where queues without their own live.
    pub fn default_conn(&self) -> QueueConn {
        self.default.conn.clone()
    }

    /// Where `queue` lives: `None` on the deployment's Redis, else its own Redis's label.
    pub fn own_redis(&self, queue: &QueueName) -> Option<&str> {
        self.own
            .get(queue.as_str())
            .map(|(label, _)| label.as_str())
    }

    pub(crate) fn route(&self, queue: &QueueName) -> &Route {
        self.own
            .get(queue.as_str())
            .map_or(&self.default, |(_, route)| route)
    }
}

impl From<redis::aio::ConnectionManager> for QueueRedis {
    fn from(conn: redis::aio::ConnectionManager) -> Self {
        Self::new(conn)
    }
}
