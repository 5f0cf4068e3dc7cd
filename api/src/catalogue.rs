//! The API's copy of the coin catalogue, for lookups by id or symbol and the coin search.
//!
//! The catalogue changes once a day, so every process keeps it indexed in memory
//! ([`CoinIndex`], a few MB for 14,000 coins) and asks Redis at most once a second whether a
//! refresh replaced it (one `HMGET` of its facts); only then is it read again (one `HGETALL`),
//! by one request while the others keep using the copy they have.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use coinbeat_shared::{
    catalogue::{CatalogueMeta, CatalogueStore, CoinIndex},
    domain::{CoinId, Symbol},
    settings::PricesSettings,
};
use serde::Serialize;

use crate::{ApiError, AppState};

/// How long a process trusts its copy before asking whether the catalogue changed.
const RECHECK: Duration = Duration::from_secs(1);

/// The catalogue as this process last read it.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    /// `None` before the first refresh.
    pub meta: Option<CatalogueMeta>,
    pub index: Arc<CoinIndex>,
}

/// The copy and when it was last checked.
#[derive(Debug, Default)]
pub struct CatalogueCopy {
    current: Mutex<Option<(Instant, Catalogue)>>,
    /// Held by the one request that reloads, so a change costs one `HGETALL`, not one per
    /// request in flight.
    reload: tokio::sync::Mutex<()>,
}

impl CatalogueCopy {
    /// The catalogue as of at most [`RECHECK`] ago.
    pub async fn get(&self, state: &AppState) -> Result<Catalogue, ApiError> {
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let _reloading = self.reload.lock().await;
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let store = CatalogueStore::new(state.conn().clone(), state.keys().clone());
        let meta = state.redis(store.meta()).await?;
        let known = self.known();
        let catalogue = match known {
            Some(known) if known.meta == meta => known,
            _ => {
                let coins = state.redis(store.load()).await?;
                let index = CoinIndex::new(coins, &state.settings().prices.coins);
                Catalogue {
                    meta,
                    index: Arc::new(index),
                }
            }
        };
        *self.lock() = Some((Instant::now(), catalogue.clone()));
        Ok(catalogue)
    }

    fn fresh(&self) -> Option<Catalogue> {
        match self.lock().as_ref() {
            Some((at, catalogue)) if at.elapsed() < RECHECK => Some(catalogue.clone()),
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

    /// The coin of each symbol (same order; `None` for a symbol no coin has), as
    /// [`Self::name`] resolves symbols: the tracked set, a `?symbols=` list.
    pub fn coins_of(&self, prices: &PricesSettings, symbols: &[Symbol]) -> Vec<Option<CoinId>> {
        symbols
            .iter()
            .map(|symbol| {
                self.index
                    .resolve(symbol.as_str())
                    .ok()
                    .filter(|lookup| lookup.coin.symbol == symbol.as_str())
                    .map(|lookup| lookup.coin.id.clone())
                    .or_else(|| prices.coin(symbol))
            })
            .collect()
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
