//! [`ShardState`]: what each shard of the streamed symbols is doing, as its holder (a
//! `stream-worker` replica) last wrote it to Redis, about once a second. `/v1/health`, the CLI
//! and the health worker read them; a state its holder stopped refreshing is reported
//! `unowned`, because then nobody streams those symbols.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::{cache::Status, keys::Keys};

/// A state not refreshed for this long has no live holder.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// States not refreshed for this long are left out by readers (a shard gone with a smaller
/// symbol set, a deployment that stopped streaming).
pub const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Where a shard's prices come from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Phase {
    /// Opening the first connection.
    Connecting,
    /// Binance's streams deliver.
    Streaming,
    /// Binance's connection was lost (or went silent) and is being opened again; not yet
    /// silent for long enough to fail over.
    Reconnecting,
    /// Binance silent or failing past `streams.silence_secs`: CoinCap streams the shard.
    FailedOver,
    /// Both sources silent or failing: the REST beat alone keeps these prices.
    Down,
    /// Nobody has refreshed the state lately: no replica holds the shard.
    Unowned,
}

impl Phase {
    /// How the phase weighs on `/v1/health`: only Binance streaming is healthy.
    pub fn status(self) -> Status {
        match self {
            Self::Streaming | Self::Connecting => Status::Up,
            Self::Reconnecting | Self::FailedOver | Self::Down | Self::Unowned => Status::Degraded,
        }
    }
}

/// One shard as its holder sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShardState {
    pub shard: u32,
    pub phase: Phase,
    /// `binance-ws`, `coincap-ws`, or `none` while nothing streams.
    pub source: String,
    /// The replica holding the shard's lease.
    pub holder: String,
    pub symbols: usize,
    /// When the phase began.
    pub since: DateTime<Utc>,
    /// The exchange time of the newest event received, if any.
    pub last_event_at: Option<DateTime<Utc>>,
    /// Price events received since the holder took the shard.
    pub ticks: u64,
    /// Connections opened again after a loss, since the holder took the shard.
    pub reconnects: u64,
    /// Frames that could not be read, skipped.
    pub malformed: u64,
    /// When the holder last wrote this.
    pub updated_at: DateTime<Utc>,
}

impl ShardState {
    /// Stores the state (the holder calls this about once a second).
    pub async fn store(&self, conn: &ConnectionManager, keys: &Keys) -> redis::RedisResult<()> {
        let json = serde_json::to_string(self).expect("a shard state serializes");
        redis::cmd("HSET")
            .arg(keys.stream_state())
            .arg(self.shard)
            .arg(json)
            .query_async::<()>(&mut conn.clone())
            .await
    }

    /// The state as a reader reports it at `now`: `unowned` once its holder stopped refreshing.
    pub fn as_seen_at(mut self, now: DateTime<Utc>) -> Self {
        if (now - self.updated_at).to_std().unwrap_or_default() > STALE_AFTER {
            self.phase = Phase::Unowned;
        }
        self
    }
}

/// Every shard's state as seen now, by shard, leaving out those forgotten by age (a reader
/// only reads; a stream-worker removes the states of shards gone with a smaller symbol set).
pub async fn load(conn: &ConnectionManager, keys: &Keys) -> redis::RedisResult<Vec<ShardState>> {
    let raw: Vec<(u32, String)> = redis::cmd("HGETALL")
        .arg(keys.stream_state())
        .query_async(&mut conn.clone())
        .await?;
    let now = Utc::now();
    let mut states: Vec<ShardState> = raw
        .into_iter()
        .filter_map(|(_, json)| serde_json::from_str::<ShardState>(&json).ok())
        .filter(|s| (now - s.updated_at).to_std().unwrap_or_default() <= FORGET_AFTER)
        .map(|s| s.as_seen_at(now))
        .collect();
    states.sort_by_key(|s| s.shard);
    Ok(states)
}

/// Removes the states of shards numbered `from` and up (the symbol set shrank).
pub async fn remove_from(
    conn: &ConnectionManager,
    keys: &Keys,
    from: u32,
) -> redis::RedisResult<()> {
    let shards: Vec<u32> = redis::cmd("HKEYS")
        .arg(keys.stream_state())
        .query_async(&mut conn.clone())
        .await?;
    let gone: Vec<u32> = shards.into_iter().filter(|s| *s >= from).collect();
    if gone.is_empty() {
        return Ok(());
    }
    redis::cmd("HDEL")
        .arg(keys.stream_state())
        .arg(gone)
        .query_async(&mut conn.clone())
        .await
}

/// The worst status of `states` (`Up` when there are none: streaming is not deployed).
pub fn status(states: &[ShardState]) -> Status {
    states
        .iter()
        .map(|s| s.phase.status())
        .max()
        .unwrap_or(Status::Up)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{redis_conn, testing::TestRedis};

    fn state(shard: u32, phase: Phase, updated_at: DateTime<Utc>) -> ShardState {
        ShardState {
            shard,
            phase,
            source: "binance-ws".into(),
            holder: "a".into(),
            symbols: 12,
            since: updated_at,
            last_event_at: None,
            ticks: 0,
            reconnects: 0,
            malformed: 0,
            updated_at,
        }
    }

    #[tokio::test]
    async fn a_state_nobody_refreshes_is_unowned_then_forgotten() {
        let redis = TestRedis::start();
        let settings = redis.settings();
        let conn = redis_conn::connect(&settings.redis).await.unwrap();
        let keys = Keys::new(settings.redis.key_prefix);
        let now = Utc::now();
        state(0, Phase::Streaming, now)
            .store(&conn, &keys)
            .await
            .unwrap();
        state(1, Phase::Streaming, now - chrono::Duration::seconds(30))
            .store(&conn, &keys)
            .await
            .unwrap();
        state(2, Phase::FailedOver, now - chrono::Duration::hours(1))
            .store(&conn, &keys)
            .await
            .unwrap();
        let states = load(&conn, &keys).await.unwrap();
        let phases: Vec<(u32, Phase)> = states.iter().map(|s| (s.shard, s.phase)).collect();
        assert_eq!(phases, [(0, Phase::Streaming), (1, Phase::Unowned)]);
        assert_eq!(status(&states), Status::Degraded);
        assert_eq!(status(&states[..1]), Status::Up);
        assert_eq!(status(&[]), Status::Up, "no stream-worker deployed");

        remove_from(&conn, &keys, 1).await.unwrap();
        assert_eq!(load(&conn, &keys).await.unwrap().len(), 1);
    }
}
