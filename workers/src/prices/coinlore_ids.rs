//! CoinLore's own ids of the coins, learned from every page a tier reads: what `/ticker/?id=`
//! asks by when a coin's rank drifted off its tier's pages. Kept in this process and in Redis
//! (`Keys::coinlore_ids`), so a restarted worker or a new replica asks a drifted coin by id at
//! once instead of reading the pages next to its tier's and missing coins until the tier's next
//! run. The hash holds one short entry per coin CoinLore ever listed (bounded by its list).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use coinbeat_shared::keys::Keys;
use redis::{AsyncCommands, aio::ConnectionManager};
use tokio::sync::OnceCell;

/// Coin id → CoinLore id. Cheap to share (behind an `Arc`).
#[derive(Debug)]
pub struct CoinLoreIds {
    conn: ConnectionManager,
    key: String,
    known: Mutex<HashMap<String, String>>,
    /// Set once the stored ids were read into `known`.
    loaded: OnceCell<()>,
}

impl CoinLoreIds {
    pub fn new(conn: ConnectionManager, keys: &Keys) -> Self {
        Self {
            conn,
            key: keys.coinlore_ids(),
            known: Mutex::default(),
            loaded: OnceCell::new(),
        }
    }

    /// Reads the stored ids once per process (again after a failure).
    pub async fn load(&self) -> redis::RedisResult<()> {
        self.loaded
            .get_or_try_init(|| async {
                let stored: HashMap<String, String> = self.conn.clone().hgetall(&self.key).await?;
                let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
                for (coin, id) in stored {
                    known.entry(coin).or_insert(id);
                }
                Ok(())
            })
            .await
            .map(drop)
    }

    /// The CoinLore id of each of `coins` that one is known for.
    pub fn of<'a>(&self, coins: impl Iterator<Item = &'a str>) -> Vec<(&'a str, String)> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        coins
            .filter_map(|coin| Some((coin, known.get(coin)?.clone())))
            .collect()
    }

    /// Notes `pairs` (coin id, CoinLore id; an empty CoinLore id is skipped) and stores the new
    /// or changed ones.
    pub async fn learn<'a>(
        &self,
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> redis::RedisResult<()> {
        let changed: Vec<(String, String)> = {
            let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            let mut changed = Vec::new();
            for (coin, id) in pairs.filter(|(_, id)| !id.is_empty()) {
                if known.get(coin).is_none_or(|old| old != id) {
                    known.insert(coin.to_owned(), id.to_owned());
                    changed.push((coin.to_owned(), id.to_owned()));
                }
            }
            changed
        };
        if changed.is_empty() {
            return Ok(());
        }
        self.conn.clone().hset_multiple(&self.key, &changed).await
    }
}
