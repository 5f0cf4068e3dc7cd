//! [`QueueConn`]: the connection a queue's commands and scripts go over: one Redis (the
//! self-reconnecting [`ConnectionManager`]) or a Redis Cluster (the redis crate's async cluster
//! client, which routes each command by its keys' slot and follows `MOVED`/`ASK`).
//!
//! Every key of one queue shares one hash tag (`{prefix:q:queue}`, see `keys`), so each of a
//! queue's scripts and pipelines runs on one primary of a cluster, and the queue layer is the
//! same code on both.
//!
//! A cluster is named by a `redis+cluster://` URL (`rediss+cluster://` with TLS) listing one or
//! more of its nodes: `redis+cluster://user:password@node-a:7000,node-b:7001/`. The client learns
//! the rest of the cluster from them.

use std::sync::Arc;

use redis::{
    Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, RedisFuture, RedisResult, Value,
    aio::{ConnectionLike, ConnectionManager},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr},
};
use tokio::sync::OnceCell;

/// What the queue layer's functions accept: a [`QueueConn`], or a plain [`ConnectionManager`]
/// (a queue on the deployment's one Redis).
pub trait RedisConn: ConnectionLike + Clone + Send + Sync + 'static {
    /// As a [`QueueConn`] (a clone sharing the connection).
    fn queue_conn(&self) -> QueueConn;
}

impl RedisConn for QueueConn {
    fn queue_conn(&self) -> QueueConn {
        self.clone()
    }
}

impl RedisConn for ConnectionManager {
    fn queue_conn(&self) -> QueueConn {
        QueueConn::Single(self.clone())
    }
}

/// The connection of one queue (or of several sharing a Redis). Cheap to clone: clones share
/// the underlying connections.
#[derive(Debug, Clone)]
pub enum QueueConn {
    /// One Redis server.
    Single(ConnectionManager),
    /// A Redis Cluster, connected on first use (so a process starts while it is down).
    Cluster(Arc<Cluster>),
}

/// A Redis Cluster's client and, once made, its connection.
pub struct Cluster {
    client: ClusterClient,
    conn: OnceCell<ClusterConnection>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("connected", &self.conn.initialized())
            .finish_non_exhaustive()
    }
}

impl From<ConnectionManager> for QueueConn {
    fn from(conn: ConnectionManager) -> Self {
        Self::Single(conn)
    }
}

impl QueueConn {
    /// A cluster connection from a `redis+cluster://` (or `rediss+cluster://`) URL; nothing is
    /// connected until the first command.
    pub fn cluster(url: &str) -> RedisResult<Self> {
        let nodes = cluster_nodes(url).ok_or_else(|| {
            RedisError::from((
                ErrorKind::InvalidClientConfig,
                "not a redis+cluster:// URL with at least one host:port",
            ))
        })?;
        let client = ClusterClient::builder(nodes)
            .connection_timeout(std::time::Duration::from_secs(5))
            .response_timeout(std::time::Duration::from_secs(10))
            .retries(2)
            .build()?;
        Ok(Self::Cluster(Arc::new(Cluster {
            client,
            conn: OnceCell::new(),
        })))
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Sends `cmd`, a command that names no key (`SCAN`, `INFO`), to the Redis that holds
    /// `key`: on a cluster, the primary of `key`'s slot (a cluster client would otherwise send
    /// it to any node).
    pub async fn query_at<T: FromRedisValue>(&self, key: &str, cmd: &Cmd) -> RedisResult<T> {
        match self {
            Self::Single(conn) => cmd.query_async(&mut conn.clone()).await,
            Self::Cluster(cluster) => {
                let route = Route::with_slot(Slot::for_key(key), SlotAddr::Master);
                let value = cluster
                    .conn()
                    .await?
                    .route_command(
                        cmd.clone(),
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await?;
                redis::from_redis_value(value).map_err(Into::into)
            }
        }
    }
}

impl Cluster {
    async fn conn(&self) -> RedisResult<ClusterConnection> {
        self.conn
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }
}

impl ConnectionLike for QueueConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(cluster) => Box::pin(async move {
                let mut conn = cluster.conn().await?;
                conn.req_packed_command(cmd).await
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(cluster) => Box::pin(async move {
                let mut conn = cluster.conn().await?;
                conn.req_packed_commands(pipeline, offset, count).await
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(_) => 0,
        }
    }
}

/// Whether `url` names a Redis Cluster (`redis+cluster://` or `rediss+cluster://`).
pub fn is_cluster_url(url: &str) -> bool {
    url.starts_with("redis+cluster://") || url.starts_with("rediss+cluster://")
}

/// The node URLs of a `redis+cluster://[user[:password]@]host:port[,host:port…][/]` URL, each
/// `redis://[user[:password]@]host:port` (`rediss://` for `rediss+cluster://`); `None` when
/// `url` is not one.
pub fn cluster_nodes(url: &str) -> Option<Vec<String>> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("redis+cluster://") {
        ("redis", rest)
    } else {
        ("rediss", url.strip_prefix("rediss+cluster://")?)
    };
    let rest = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (auth, hosts) = match rest.rsplit_once('@') {
        Some((auth, hosts)) => (format!("{auth}@"), hosts),
        None => (String::new(), rest),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| format!("{scheme}://{auth}{h}"))
        .collect();
    let valid = !nodes.is_empty()
        && hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .all(|h| {
                h.rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            });
    valid.then_some(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_url_names_each_node_with_the_same_credentials() {
        assert_eq!(
            cluster_nodes("redis+cluster://app:s3cret@a:7000,b:7001/").unwrap(),
            ["redis://app:s3cret@a:7000", "redis://app:s3cret@b:7001"]
        );
        assert_eq!(
            cluster_nodes("rediss+cluster://10.0.0.1:6379").unwrap(),
            ["rediss://10.0.0.1:6379"]
        );
    }

    #[test]
    fn what_is_not_a_cluster_url_is_refused() {
        assert!(cluster_nodes("redis://a:6379").is_none());
        assert!(cluster_nodes("redis+cluster://").is_none());
        assert!(cluster_nodes("redis+cluster://a").is_none(), "no port");
        assert!(cluster_nodes("redis+cluster://a:notaport").is_none());
        assert!(!is_cluster_url("redis://a:6379"));
        assert!(is_cluster_url("redis+cluster://a:7000"));
    }
}
