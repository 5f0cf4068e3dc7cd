//! A test's own connection to the private Redis of its settings: the connection, the key
//! builder of its prefix and, for the suites that enqueue, a producer on it.

#![allow(dead_code)] // Each test binary uses a different part.

use coinbeat_shared::{Settings, keys::Keys, queue::Producer, redis_conn};
use redis::aio::ConnectionManager;

/// A connection to the Redis of `settings` and the key builder of its prefix.
pub async fn connect(settings: &Settings) -> (ConnectionManager, Keys) {
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    (conn, keys)
}

/// [`connect`], and a producer for the queues of `settings` on that connection.
pub async fn producer(settings: &Settings) -> (ConnectionManager, Keys, Producer) {
    let (conn, keys) = connect(settings).await;
    let producer = Producer::new(conn.clone(), keys.clone(), settings.queues.clone());
    (conn, keys, producer)
}
