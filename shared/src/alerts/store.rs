//! Where alerts live: each as JSON under its id, indexed by coin and kind for the evaluation
//! (`above` and `below` in ZSETs by threshold, `move` in a SET) and by owner for the per-key
//! bound. Creating and deleting are one script each, so the bound and the indexes never
//! disagree with the alerts.

use std::{collections::BTreeSet, sync::LazyLock};

use redis::{Script, aio::ConnectionManager};
use rust_decimal::prelude::ToPrimitive;

use super::{AlertId, Condition, StoredAlert};
use crate::{domain::CoinId, keys::Keys};

static CREATE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/create_alert.lua")));
static DELETE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/delete_alert.lua")));

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The owner holds `max` alerts already.
    #[error("this key holds {max} alerts, the most allowed (alerts.max_per_key); delete one first")]
    TooMany { max: u32 },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("alert {key} is not valid JSON: {source}")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The alerts of one deployment.
#[derive(Debug, Clone)]
pub struct AlertStore {
    conn: ConnectionManager,
    keys: Keys,
}

impl AlertStore {
    pub fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub(crate) fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Stores `alert` unless its owner holds `max_per_key` already.
    pub async fn create(&self, alert: &StoredAlert, max_per_key: u32) -> Result<(), StoreError> {
        let json = serde_json::to_string(alert).expect("alerts serialize");
        let (index, kind, score) = match &alert.condition {
            Condition::Above { usd } => (self.keys.alerts_above(&alert.coin), "zset", score(usd)),
            Condition::Below { usd } => (self.keys.alerts_below(&alert.coin), "zset", score(usd)),
            Condition::Move { .. } => (self.keys.alerts_moves(&alert.coin), "set", 0.0),
        };
        let stored: i64 = CREATE
            .key(self.keys.alerts_of(&alert.owner))
            .key(self.keys.alert(&alert.id))
            .key(index)
            .key(self.keys.alerts_coins())
            .arg(max_per_key)
            .arg(alert.id.to_string())
            .arg(json)
            .arg(kind)
            .arg(score)
            .arg(alert.coin.as_str())
            .invoke_async(&mut self.conn.clone())
            .await?;
        if stored == 1 {
            Ok(())
        } else {
            Err(StoreError::TooMany { max: max_per_key })
        }
    }

    /// The alert `id`, whoever owns it.
    pub async fn get(&self, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
        Ok(self
            .get_many(std::slice::from_ref(id))
            .await?
            .pop()
            .flatten())
    }

    /// The alerts `ids`, in the same order (`None` where one is gone).
    pub async fn get_many(&self, ids: &[AlertId]) -> Result<Vec<Option<StoredAlert>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.keys.alert(id)).collect();
        let raw: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn.clone())
            .await?;
        raw.into_iter()
            .zip(keys)
            .map(|(json, key)| {
                json.map(|json| {
                    serde_json::from_str(&json)
                        .map_err(|source| StoreError::Corrupt { key, source })
                })
                .transpose()
            })
            .collect()
    }

    /// The alerts `owner` holds, oldest first.
    pub async fn list(&self, owner: &str) -> Result<Vec<StoredAlert>, StoreError> {
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.alerts_of(owner))
            .query_async(&mut self.conn.clone())
            .await?;
        let ids: Vec<AlertId> = ids
            .iter()
            .filter_map(|id| AlertId::parse(id).ok())
            .collect();
        let mut alerts: Vec<StoredAlert> = self
            .get_many(&ids)
            .await?
            .into_iter()
            .flatten()
            .filter(|alert| alert.owner == owner)
            .collect();
        alerts.sort_by_key(|alert| (alert.created_at, alert.id));
        Ok(alerts)
    }

    /// Every alert, whoever owns it, oldest first: found through the coins with alerts and
    /// their indexes, as the evaluation finds them (so an alert listed here is one that fires).
    pub async fn list_all(&self) -> Result<Vec<StoredAlert>, StoreError> {
        let mut conn = self.conn.clone();
        let coins: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.alerts_coins())
            .query_async(&mut conn)
            .await?;
        let coins: Vec<CoinId> = coins
            .iter()
            .filter_map(|coin| CoinId::parse(coin).ok())
            .collect();
        if coins.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for coin in &coins {
            pipe.zrange(self.keys.alerts_above(coin), 0, -1)
                .zrange(self.keys.alerts_below(coin), 0, -1)
                .smembers(self.keys.alerts_moves(coin));
        }
        let found: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
        let ids: BTreeSet<AlertId> = found
            .iter()
            .flatten()
            .filter_map(|id| AlertId::parse(id).ok())
            .collect();
        let ids: Vec<AlertId> = ids.into_iter().collect();
        let mut alerts: Vec<StoredAlert> =
            self.get_many(&ids).await?.into_iter().flatten().collect();
        alerts.sort_by_key(|alert| (alert.created_at, alert.id));
        Ok(alerts)
    }

    /// Deletes alert `id` whoever owns it (an operator's call): the alert deleted, if there
    /// was one.
    pub async fn delete_any(&self, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
        let Some(alert) = self.get(id).await? else {
            return Ok(None);
        };
        Ok(self.remove(&alert).await?.then_some(alert))
    }

    /// Deletes alert `id` if `owner` holds it; `Ok(false)`: it has no such alert (never says
    /// whether someone else has).
    pub async fn delete(&self, owner: &str, id: &AlertId) -> Result<bool, StoreError> {
        let Some(alert) = self.get(id).await? else {
            return Ok(false);
        };
        if alert.owner != owner {
            return Ok(false);
        }
        self.remove(&alert).await
    }

    /// Deletes `alert` with its index entries; `Ok(false)`: it was gone already.
    async fn remove(&self, alert: &StoredAlert) -> Result<bool, StoreError> {
        let id = &alert.id;
        let deleted: i64 = DELETE
            .key(self.keys.alerts_of(&alert.owner))
            .key(self.keys.alert(id))
            .key(self.keys.alerts_above(&alert.coin))
            .key(self.keys.alerts_below(&alert.coin))
            .key(self.keys.alerts_moves(&alert.coin))
            .key(self.keys.alerts_coins())
            .key(self.keys.alert_firings(id))
            .arg(id.to_string())
            .arg(alert.coin.as_str())
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(deleted == 1)
    }
}

/// A threshold as a ZSET score. Only the candidates of a crossing come from scores; each is
/// confirmed against its exact decimal.
pub(crate) fn score(usd: &rust_decimal::Decimal) -> f64 {
    usd.to_f64().unwrap_or(f64::MAX)
}
