//! The catalogue in Redis: one HASH of coins (id → JSON) and one of facts about it.
//!
//! A refresh writes every coin into a staging HASH of its own, then one script renames it over
//! the catalogue: readers see the old catalogue or the new one, never a mix, and never an empty
//! one in between. The script is newest-wins (a late refresh that began before the stored one
//! changes nothing) and refuses a listing that shrank past a guard (an upstream answering a
//! truncated list must not make most coins vanish).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use redis::{AsyncCommands, Script, aio::ConnectionManager};
use serde::Serialize;

use super::CatalogueCoin;
use crate::{domain::CoinId, keys::Keys};

static SWAP: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/swap_catalogue.lua")));

/// Coins per `HSET` while staging.
const STAGE_BATCH: usize = 1_000;
/// A staging HASH left behind by a refresh that died expires after this.
const STAGING_TTL_SECS: u64 = 3_600;

/// Why the catalogue could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("catalogue entry {id:?} is unreadable: {message}")]
    Corrupt { id: String, message: String },
    #[error(
        "the new listing has {staged} coins where {previous} are stored: less than {min_share_pct}% \
         of them, so it looks truncated and was not stored"
    )]
    Shrank {
        previous: u64,
        staged: u64,
        min_share_pct: u32,
    },
    #[error("the staged catalogue lost coins before it could be stored ({staged} of {written})")]
    Incomplete { staged: u64, written: u64 },
}

/// What is known about the stored catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogueMeta {
    /// When the refresh that wrote it began asking the upstream.
    pub refreshed_at: DateTime<Utc>,
    /// `coingecko`, `coingecko+coinlore` (ranks from CoinLore) or `coinlore`.
    pub source: String,
    pub coins: u64,
    /// Coins with a rank.
    pub ranked: u64,
}

/// What [`CatalogueStore::replace`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Stored; the catalogue it replaced had this many coins.
    Replaced { previous: u64 },
    /// A catalogue from a refresh that began at the same time or later is stored; nothing
    /// changed.
    Older,
}

/// The catalogue of one deployment.
#[derive(Debug, Clone)]
pub struct CatalogueStore {
    conn: ConnectionManager,
    keys: Keys,
}

impl CatalogueStore {
    pub fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys }
    }

    /// Replaces the catalogue with `coins` (ids unique), fetched by a refresh that began at
    /// `refreshed_at`, unless a newer one is stored or `coins` has fewer than `min_share_pct`
    /// percent of the stored count.
    pub async fn replace(
        &self,
        coins: &[CatalogueCoin],
        source: &str,
        refreshed_at: DateTime<Utc>,
        min_share_pct: u32,
    ) -> Result<Written, CatalogueError> {
        let mut conn = self.conn.clone();
        let staging = self
            .keys
            .catalogue_staging(&format!("{:016x}", rand::random::<u64>()));
        for batch in coins.chunks(STAGE_BATCH) {
            let fields: Vec<(&str, String)> = batch
                .iter()
                .map(|coin| {
                    let json = serde_json::to_string(coin).expect("coins serialize");
                    (coin.id.as_str(), json)
                })
                .collect();
            redis::pipe()
                .hset_multiple(&staging, &fields)
                .ignore()
                .expire(&staging, STAGING_TTL_SECS as i64)
                .ignore()
                .query_async::<()>(&mut conn)
                .await?;
        }
        let ranked = coins.iter().filter(|c| c.rank.is_some()).count();
        let (status, previous, staged): (i64, u64, u64) = SWAP
            .key(&staging)
            .key(self.keys.catalogue_coins())
            .key(self.keys.catalogue_meta())
            .arg(refreshed_at.timestamp_millis())
            .arg(source)
            .arg(ranked)
            .arg(min_share_pct)
            .arg(coins.len())
            .invoke_async(&mut conn)
            .await?;
        match status {
            1 => Ok(Written::Replaced { previous }),
            0 => Ok(Written::Older),
            -1 => Err(CatalogueError::Shrank {
                previous,
                staged,
                min_share_pct,
            }),
            _ => Err(CatalogueError::Incomplete {
                staged,
                written: coins.len() as u64,
            }),
        }
    }

    /// What is stored about the catalogue; `None` before the first refresh.
    pub async fn meta(&self) -> Result<Option<CatalogueMeta>, CatalogueError> {
        let mut conn = self.conn.clone();
        let (at, source, coins, ranked): (Option<i64>, Option<String>, Option<u64>, Option<u64>) =
            redis::cmd("HMGET")
                .arg(self.keys.catalogue_meta())
                .arg(&["refreshed_at_ms", "source", "coins", "ranked"])
                .query_async(&mut conn)
                .await?;
        let (Some(at), Some(source)) = (at, source) else {
            return Ok(None);
        };
        Ok(Some(CatalogueMeta {
            refreshed_at: DateTime::from_timestamp_millis(at).unwrap_or_default(),
            source,
            coins: coins.unwrap_or(0),
            ranked: ranked.unwrap_or(0),
        }))
    }

    /// Every coin, in no particular order (an HGETALL: about 3 MB for 14,000 coins).
    pub async fn load(&self) -> Result<Vec<CatalogueCoin>, CatalogueError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> = conn.hgetall(self.keys.catalogue_coins()).await?;
        all.into_iter()
            .map(|(id, json)| parse(&id, &json))
            .collect()
    }

    /// One coin by id.
    pub async fn get(&self, id: &CoinId) -> Result<Option<CatalogueCoin>, CatalogueError> {
        let mut conn = self.conn.clone();
        let json: Option<String> = conn.hget(self.keys.catalogue_coins(), id.as_str()).await?;
        json.map(|json| parse(id.as_str(), &json)).transpose()
    }
}

fn parse(id: &str, json: &str) -> Result<CatalogueCoin, CatalogueError> {
    serde_json::from_str(json).map_err(|e| CatalogueError::Corrupt {
        id: id.to_owned(),
        message: e.to_string(),
    })
}
