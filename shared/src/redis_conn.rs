//! Opening Redis connections from settings, with errors that never echo the URL's password, and
//! the one check every process makes of the Redis it connects to: that Redis will not evict our
//! keys ([`check_eviction_policy`]).

use std::time::Duration;

use redis::{Client, ErrorKind, aio::ConnectionManager};

use crate::{
    jobs::QueueName,
    keys::Keys,
    queue::{QueueConn, QueueRedis, cluster_nodes, is_cluster_url},
    settings::{RedisSettings, Secret, Settings},
};

/// Redis could not be reached or the URL is malformed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid redis url: {0}")]
    BadUrl(#[source] redis::RedisError),
    #[error("cannot connect to redis: {0}")]
    Connect(#[source] redis::RedisError),
    /// Redis evicts keys when it is full. Queued tasks, their records and the queue keys
    /// themselves would vanish without a word, so no process runs on it unless told to.
    #[error(
        "redis maxmemory-policy is {policy}: when it is full, Redis deletes keys to make room, \
         and coinbeat's queued tasks, task records and queue keys would silently vanish. Set \
         maxmemory-policy noeviction on Redis (a full Redis then refuses new tasks instead), or \
         accept {policy} knowingly with redis.allow_evicting_policy = true \
         (COINBEAT_REDIS__ALLOW_EVICTING_POLICY=true)"
    )]
    EvictingPolicy { policy: String },
}

/// A client for the configured URL (no connection is made yet). `rediss://` is TLS, checked
/// against the system's CA certificates (`rediss://…/#insecure` skips the check).
pub fn client(settings: &RedisSettings) -> Result<Client, ConnectError> {
    if settings.url.expose().starts_with("rediss://") {
        // rustls needs one process-wide crypto provider; a second install is a no-op error.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    Client::open(settings.url.expose()).map_err(ConnectError::BadUrl)
}

/// A self-reconnecting, multiplexed connection shared by everything in one process, to a Redis
/// that has passed [`check_eviction_policy`].
pub async fn connect(settings: &RedisSettings) -> Result<ConnectionManager, ConnectError> {
    let client = client(settings)?;
    let conn = ConnectionManager::new_with_config(client, manager_config())
        .await
        .map_err(ConnectError::Connect)?;
    check_eviction_policy(&conn, settings).await?;
    Ok(conn)
}

/// Like [`connect`], but returns at once and connects on first use: for processes that must
/// start (and report Redis as unavailable) while Redis is down, such as the API. Nothing is
/// checked here: such a process runs [`watch_eviction_policy`] beside its work.
pub fn connect_lazy(settings: &RedisSettings) -> Result<ConnectionManager, ConnectError> {
    let client = client(settings)?;
    ConnectionManager::new_lazy_with_config(client, manager_config()).map_err(ConnectError::Connect)
}

fn manager_config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
        .set_response_timeout(Some(std::time::Duration::from_secs(10)))
        .set_number_of_retries(2)
}

/// Refuses a Redis that evicts keys: anything but `maxmemory-policy noeviction` (the
/// `volatile-*` policies too: our idempotency keys, worker records and caches carry TTLs, and
/// an evicted idempotency key lets a duplicate through), unless `allow_evicting_policy` says
/// it is accepted knowingly (then a warning).
///
/// A Redis that will not say (managed services often rename or forbid `CONFIG`) is not a reason
/// to stop: a warning, and `Ok`. An unreachable Redis is [`ConnectError::Connect`].
pub async fn check_eviction_policy(
    conn: &ConnectionManager,
    settings: &RedisSettings,
) -> Result<(), ConnectError> {
    let reply = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async(&mut conn.clone())
        .await;
    eviction_verdict(reply, settings)
}

/// [`check_eviction_policy`] of the Redis holding `at_key` (a key of the queue on `conn`; on a
/// Redis Cluster, the primary of its slot).
pub async fn check_queue_eviction_policy(
    conn: &QueueConn,
    at_key: &str,
    settings: &RedisSettings,
) -> Result<(), ConnectError> {
    let reply = conn
        .query_at(
            at_key,
            redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy"),
        )
        .await;
    eviction_verdict(reply, settings)
}

/// What a `CONFIG GET maxmemory-policy` reply means for us.
fn eviction_verdict(
    reply: redis::RedisResult<Vec<String>>,
    settings: &RedisSettings,
) -> Result<(), ConnectError> {
    let policy = match reply {
        Ok(pair) => match pair.into_iter().nth(1) {
            Some(policy) => policy,
            None => {
                tracing::warn!(
                    "redis did not say its maxmemory-policy; cannot check that it never evicts \
                     coinbeat's keys (it must be noeviction)"
                );
                return Ok(());
            }
        },
        // Redis answered, but not with the setting: CONFIG renamed, forbidden by an ACL, or not
        // a command this server knows.
        Err(e) if answered(&e) => {
            tracing::warn!(
                error = %e,
                "cannot read redis's maxmemory-policy (CONFIG GET refused); cannot check that it \
                 never evicts coinbeat's keys (it must be noeviction)"
            );
            return Ok(());
        }
        Err(e) => return Err(ConnectError::Connect(e)),
    };
    if policy == "noeviction" {
        return Ok(());
    }
    if settings.allow_evicting_policy {
        tracing::warn!(
            policy = %policy,
            "redis evicts keys when full (maxmemory-policy is not noeviction); accepted by \
             redis.allow_evicting_policy: queued tasks and their records may vanish"
        );
        return Ok(());
    }
    Err(ConnectError::EvictingPolicy { policy })
}

/// For processes that start without Redis ([`connect_lazy`]): keeps trying
/// [`check_eviction_policy`] until Redis answers, then returns its verdict (`Ok` for a Redis
/// that does not evict, or cannot say). The process stops with the error when it is one.
pub async fn watch_eviction_policy(
    conn: ConnectionManager,
    settings: RedisSettings,
) -> Result<(), ConnectError> {
    watch(|| check_eviction_policy(&conn, &settings)).await
}

/// [`watch_eviction_policy`] of the deployment's Redis and, beside it, of every queue's own
/// Redis (`queues.overrides.<queue>.redis_url`): `Ok` once each has answered and does not
/// evict, the first refusal otherwise.
pub async fn watch_every_eviction_policy(
    conn: ConnectionManager,
    queues: QueueRedis,
    settings: Settings,
) -> Result<(), ConnectError> {
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let own: Vec<_> = settings
        .queues
        .redis_urls()
        .filter_map(|(queue, url)| {
            let queue = QueueName::parse(queue).ok()?;
            Some((
                queues.conn(&queue),
                keys.queue(&queue).active(),
                queue_redis_settings(&settings, url),
            ))
        })
        .collect();
    let own = own.iter().map(|(conn, at, redis)| async move {
        watch(|| check_queue_eviction_policy(conn, at, redis)).await
    });
    futures::future::try_join(
        watch_eviction_policy(conn, settings.redis.clone()),
        futures::future::try_join_all(own),
    )
    .await
    .map(|_| ())
}

/// Runs `check` until Redis answers (0.5 s doubling to 10 s between tries), then returns its
/// verdict.
async fn watch<F, Fut>(check: F) -> Result<(), ConnectError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), ConnectError>>,
{
    let mut backoff =
        crate::supervise::Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    loop {
        match check().await {
            Err(ConnectError::Connect(e)) => {
                tracing::debug!(error = %e, "redis unreachable; its maxmemory-policy is checked once it answers");
            }
            verdict => return verdict,
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// Whether `e` is Redis's own answer (an error reply, or a reply we could not read) rather than
/// a failure to reach it.
fn answered(e: &redis::RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Server(_)
            | ErrorKind::Extension
            | ErrorKind::Parse
            | ErrorKind::UnexpectedReturnType
    )
}

/// The settings of the Redis of `queue`: the deployment's, or its own URL with the same key
/// prefix and eviction policy choice.
fn queue_redis_settings(settings: &Settings, url: &Secret) -> RedisSettings {
    RedisSettings {
        url: url.clone(),
        ..settings.redis.clone()
    }
}

/// Every queue's connection: `default` (the deployment's Redis) for the queues without a
/// `queues.overrides.<queue>.redis_url`, and for each of the others its own Redis or Redis
/// Cluster, connected and checked ([`check_eviction_policy`]) now.
pub async fn connect_queues(
    settings: &Settings,
    default: ConnectionManager,
) -> Result<QueueRedis, ConnectError> {
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let mut redis = QueueRedis::new(default);
    for (queue, url) in settings.queues.redis_urls() {
        let own = queue_redis_settings(settings, url);
        let conn = if is_cluster_url(url.expose()) {
            let conn = QueueConn::cluster(url.expose()).map_err(ConnectError::BadUrl)?;
            let at = QueueName::parse(queue)
                .map(|q| keys.queue(&q).active())
                .unwrap_or_default();
            check_queue_eviction_policy(&conn, &at, &own).await?;
            conn
        } else {
            QueueConn::from(connect(&own).await?)
        };
        redis = redis.with(queue, redacted(url.expose()), conn);
    }
    Ok(redis)
}

/// Like [`connect_queues`], but connects on first use and checks nothing: for the API, which
/// starts (and reports Redis as unavailable) while a Redis is down.
pub fn connect_queues_lazy(
    settings: &Settings,
    default: ConnectionManager,
) -> Result<QueueRedis, ConnectError> {
    let mut redis = QueueRedis::new(default);
    for (queue, url) in settings.queues.redis_urls() {
        let conn = if is_cluster_url(url.expose()) {
            QueueConn::cluster(url.expose()).map_err(ConnectError::BadUrl)?
        } else {
            QueueConn::from(connect_lazy(&queue_redis_settings(settings, url))?)
        };
        redis = redis.with(queue, redacted(url.expose()), conn);
    }
    Ok(redis)
}

/// The client a worker of `queue` opens its Pub/Sub connection with (wake-ups on enqueue):
/// the queue's Redis, or on a Redis Cluster its first node (a cluster passes classic Pub/Sub
/// messages to every node).
pub fn queue_client(settings: &Settings, queue: &QueueName) -> Result<Client, ConnectError> {
    match settings.queues.redis_url(queue) {
        None => client(&settings.redis),
        Some(url) => {
            let url = match cluster_nodes(url.expose()) {
                Some(nodes) => Secret::new(nodes.into_iter().next().unwrap_or_default()),
                None => url.clone(),
            };
            client(&queue_redis_settings(settings, &url))
        }
    }
}

/// `url` without its password, for reports: `redis://user:***@host:port/…`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((auth, hosts)) => {
            let user = auth.split_once(':').map_or(auth, |(user, _)| user);
            format!("{scheme}://{user}:***@{hosts}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod queue_url_tests {
    use super::*;

    #[test]
    fn a_reported_url_never_carries_its_password() {
        assert_eq!(
            redacted("redis+cluster://app:s3cret@a:7000,b:7001/"),
            "redis+cluster://app:***@a:7000,b:7001/"
        );
        assert_eq!(redacted("redis://:pw@h:6379/2"), "redis://:***@h:6379/2");
        assert_eq!(redacted("redis://h:6379"), "redis://h:6379");
    }
}
