//! A process's copy of the catalogue, indexed, reloaded only when a refresh replaced it.
//!
//! The catalogue changes once a day, so each process keeps it in memory ([`CoinIndex`], a few
//! MB for 14,000 coins) and asks Redis at most once per `recheck` whether it changed (one
//! `HMGET` of its facts); only then is it read again (one `HGETALL`), by one caller while the
//! others keep the copy they have. The API and the workers share it.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use serde::Serialize;

use super::{CatalogueError, CatalogueMeta, CatalogueStore, CoinIndex};
use crate::{
    domain::{CoinId, Symbol},
    settings::PricesSettings,
};

/// The catalogue as one process last read it.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    /// `None` before the first refresh.
    pub meta: Option<CatalogueMeta>,
    pub index: Arc<CoinIndex>,
}

/// The copy and when it was last checked.
#[derive(Debug)]
pub struct CatalogueCache {
    store: CatalogueStore,
    /// Symbol → pinned coin id (`[prices.coins]`).
    pins: BTreeMap<String, String>,
    recheck: Duration,
    current: Mutex<Option<(Instant, Catalogue)>>,
    /// Held by the one caller that reloads.
    reload: tokio::sync::Mutex<()>,
}

impl CatalogueCache {
    pub fn new(store: CatalogueStore, pins: BTreeMap<String, String>, recheck: Duration) -> Self {
        Self {
            store,
            pins,
            recheck,
            current: Mutex::new(None),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    /// The catalogue as of at most `recheck` ago; once read, the copy when Redis cannot be
    /// asked (checked again after another `recheck`).
    pub async fn get(&self) -> Result<Catalogue, CatalogueError> {
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let _reloading = self.reload.lock().await;
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let catalogue = match self.reload().await {
            Ok(catalogue) => catalogue,
            // Redis cannot be asked: the copy stands for another `recheck` (the catalogue
            // changes daily), so callers go on, and do not queue up behind a dead Redis.
            Err(e) => match self.known() {
                Some(known) => {
                    tracing::debug!(error = %e, "catalogue recheck failed; keeping the copy");
                    known
                }
                None => return Err(e),
            },
        };
        *self.lock() = Some((Instant::now(), catalogue.clone()));
        Ok(catalogue)
    }

    /// The catalogue from Redis: the copy when its facts are unchanged, else read again.
    async fn reload(&self) -> Result<Catalogue, CatalogueError> {
        let meta = self.store.meta().await?;
        Ok(match self.known() {
            Some(known) if known.meta == meta => known,
            _ => {
                let coins = self.store.load().await?;
                Catalogue {
                    meta,
                    index: Arc::new(CoinIndex::new(coins, &self.pins)),
                }
            }
        })
    }

    fn fresh(&self) -> Option<Catalogue> {
        match self.lock().as_ref() {
            Some((at, catalogue)) if at.elapsed() < self.recheck => Some(catalogue.clone()),
            _ => None,
        }
    }

    fn known(&self) -> Option<Catalogue> {
        self.lock().as_ref().map(|(_, catalogue)| catalogue.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Catalogue)>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A coin a request named, by id (`bitcoin`) or by symbol (`BTC`, any case).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedCoin {
    pub id: CoinId,
    /// The coin's symbol, when the catalogue or the settings say it.
    pub symbol: Option<Symbol>,
    /// Whether the deployment knows the coin (catalogued, or with a configured coin id), so a
    /// price job can fetch it.
    pub known: bool,
    /// Other coins listed under the symbol asked for, best-ranked first.
    pub alternatives: Vec<Alternative>,
}

/// A coin sharing the symbol asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alternative {
    pub id: CoinId,
    pub symbol: String,
    pub name: String,
    pub rank: Option<u32>,
}

impl Catalogue {
    /// The coin `query` names: the catalogue's answer first (an id exactly, else a symbol:
    /// pinned by `[prices.coins]`, else the best-ranked), then a symbol `[prices.coins]` maps
    /// (before the first catalogue refresh, or for a coin it does not list), then any coin id
    /// as given (something may be cached for it). `None` when `query` is neither.
    pub fn name(&self, prices: &PricesSettings, query: &str) -> Option<NamedCoin> {
        if let Ok(lookup) = self.index.resolve(query) {
            return Some(NamedCoin {
                id: lookup.coin.id.clone(),
                symbol: Symbol::parse(&lookup.coin.symbol).ok(),
                known: true,
                alternatives: lookup
                    .alternatives
                    .iter()
                    .map(|coin| Alternative {
                        id: coin.id.clone(),
                        symbol: coin.symbol.clone(),
                        name: coin.name.clone(),
                        rank: coin.rank,
                    })
                    .collect(),
            });
        }
        if let Ok(symbol) = Symbol::parse(query)
            && let Some(id) = prices.coin(&symbol)
        {
            return Some(NamedCoin {
                id,
                symbol: Some(symbol),
                known: true,
                alternatives: Vec::new(),
            });
        }
        let id = CoinId::parse(query.trim()).ok()?;
        Some(NamedCoin {
            symbol: None,
            known: prices
                .coins
                .values()
                .any(|configured| configured == id.as_str()),
            id,
            alternatives: Vec::new(),
        })
    }
}

impl Catalogue {
    /// The coin `symbol` names, as [`Self::name`] resolves a symbol: the one rule the API, the
    /// price worker and the stream-worker share (`None` when no coin has that symbol).
    pub fn name_symbol(&self, prices: &PricesSettings, symbol: &Symbol) -> Option<NamedCoin> {
        self.name(prices, symbol.as_str())
            .filter(|named| named.symbol.as_ref() == Some(symbol))
    }
}

impl NamedCoin {
    /// A coin id the catalogue does not list: priced only if something cached it.
    pub fn bare(id: CoinId) -> Self {
        Self {
            id,
            symbol: None,
            known: false,
            alternatives: Vec::new(),
        }
    }
}
