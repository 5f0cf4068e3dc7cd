//! [`Lease`]: one holder at a time for a named piece of work across replicas (a shard of the
//! symbols a `stream-worker` streams), held in Redis with an expiry on Redis's clock.
//!
//! A holder takes the lease if it is free, then renews it well inside its time to live (a third
//! of it, say). Renewal is compare-and-extend in one script, so a holder whose lease ran out
//! (it was paused past the expiry) and was taken by another learns it at its next renewal and
//! must stop: two holders overlap at most by the renewal interval. A holder that dies simply
//! stops renewing, and the lease is free again one time-to-live later; a holder that stops
//! cleanly releases it at once.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{Script, aio::ConnectionManager};

/// Takes the lease if free, or extends it if `holder` holds it: 1 if `holder` holds it now.
/// KEYS[1] the lease  ARGV[1] holder  ARGV[2] time to live (ms)
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local current = redis.call("GET", KEYS[1])
if current == false then
    redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
    return 1
end
if current == ARGV[1] then
    redis.call("PEXPIRE", KEYS[1], ARGV[2])
    return 1
end
return 0
"#,
    )
});

/// Deletes the lease if `holder` holds it. KEYS[1] the lease  ARGV[1] holder
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
end
return 0
"#,
    )
});

/// One holder's handle on one lease.
#[derive(Debug, Clone)]
pub struct Lease {
    conn: ConnectionManager,
    key: String,
    holder: String,
    ttl: Duration,
}

impl Lease {
    /// `key` names the lease (built by `keys`), `holder` this replica (unique per process),
    /// `ttl` how long the lease outlives its last renewal.
    pub fn new(conn: ConnectionManager, key: String, holder: String, ttl: Duration) -> Self {
        Self {
            conn,
            key,
            holder,
            ttl,
        }
    }

    /// Takes the lease if it is free, or extends it if this holder holds it. `false`: another
    /// holder has it (if this holder had it, it has lost it and must stop).
    pub async fn take_or_renew(&self) -> Result<bool, redis::RedisError> {
        let held: i64 = TAKE
            .key(&self.key)
            .arg(&self.holder)
            .arg(self.ttl.as_millis().max(1) as u64)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(held == 1)
    }

    /// Lets the lease go now, if this holder holds it.
    pub async fn release(&self) -> Result<(), redis::RedisError> {
        let _: i64 = RELEASE
            .key(&self.key)
            .arg(&self.holder)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Who holds the lease now, if anyone.
    pub async fn holder(&self) -> Result<Option<String>, redis::RedisError> {
        redis::cmd("GET")
            .arg(&self.key)
            .query_async(&mut self.conn.clone())
            .await
    }

    /// How often a holder should renew: a third of the time to live.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{keys::Keys, redis_conn, testing::TestRedis};

    async fn leases(redis: &TestRedis, ttl: Duration) -> (Lease, Lease) {
        let settings = redis.settings();
        let conn = redis_conn::connect(&settings.redis).await.unwrap();
        let key = Keys::new(settings.redis.key_prefix).stream_lease(0);
        (
            Lease::new(conn.clone(), key.clone(), "a".into(), ttl),
            Lease::new(conn, key, "b".into(), ttl),
        )
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_a_released_lease_is_free_at_once() {
        let redis = TestRedis::start();
        let (a, b) = leases(&redis, Duration::from_secs(30)).await;
        assert!(a.take_or_renew().await.unwrap());
        assert!(!b.take_or_renew().await.unwrap(), "held by a");
        assert!(a.take_or_renew().await.unwrap(), "a renews");
        b.release().await.unwrap();
        assert_eq!(
            a.holder().await.unwrap().as_deref(),
            Some("a"),
            "b cannot release a's"
        );
        a.release().await.unwrap();
        assert!(b.take_or_renew().await.unwrap(), "free once released");
        assert!(!a.take_or_renew().await.unwrap(), "a lost it and learns so");
    }

    #[tokio::test]
    async fn a_lease_nobody_renews_is_free_one_ttl_later() {
        let redis = TestRedis::start();
        let (a, b) = leases(&redis, Duration::from_millis(300)).await;
        assert!(a.take_or_renew().await.unwrap());
        assert!(!b.take_or_renew().await.unwrap());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(b.take_or_renew().await.unwrap(), "a stopped renewing");
        assert!(
            !a.take_or_renew().await.unwrap(),
            "a, back from a pause, has lost it"
        );
    }
}
