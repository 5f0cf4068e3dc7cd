//! The simulated market: which coins exist and what each one is worth at the current step.

mod catalogue;
mod clock;
mod walk;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

pub(crate) use clock::now_unix_ms;

use catalogue::{Catalogue, CoinIndex};
use clock::Clock;
use walk::Walk;

use crate::state::lock;

#[derive(Debug)]
pub(crate) struct Market {
    seed: u64,
    catalogue: Catalogue,
    clock: Clock,
    /// Only coins that were ever quoted have an entry, so 10,000 synthetic coins cost nothing.
    walks: Mutex<HashMap<CoinIndex, Walk>>,
}

/// A coin's numbers in USD at one step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quote {
    pub(crate) price_usd: f64,
    pub(crate) market_cap_usd: f64,
    pub(crate) volume_24h_usd: f64,
    pub(crate) change_24h_pct: f64,
    pub(crate) updated_at_unix_secs: u64,
}

impl Market {
    pub(crate) fn new(seed: u64, step_ms: u64, extra_coins: u32) -> Self {
        Self {
            seed,
            catalogue: Catalogue::new(extra_coins),
            clock: Clock::new(step_ms),
            walks: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn advance(&self, steps: u64) {
        self.clock.advance(steps);
    }

    /// Quotes at the current step; one request's coins all come from the same step.
    pub(crate) fn quotes(&self) -> Quotes<'_> {
        Quotes {
            market: self,
            step: self.clock.step(),
            updated_at_unix_secs: self.clock.step_began_unix_secs(),
            walks: lock(&self.walks),
        }
    }
}

/// The market frozen at one step, for the length of one request.
#[derive(Debug)]
pub(crate) struct Quotes<'a> {
    market: &'a Market,
    step: u64,
    updated_at_unix_secs: u64,
    walks: MutexGuard<'a, HashMap<CoinIndex, Walk>>,
}

impl Quotes<'_> {
    /// `None` for an unknown id.
    pub(crate) fn get(&mut self, id: &str) -> Option<Quote> {
        let Market {
            seed, catalogue, ..
        } = *self.market;
        let coin = catalogue.index_of(id)?;
        let spec = catalogue.spec(coin, seed);
        let price = self
            .walks
            .entry(coin)
            .or_insert_with(|| Walk::start(seed, coin))
            .price_at(&spec, seed, coin, self.step);
        let market_cap = price * spec.circulating_supply;
        Some(Quote {
            price_usd: price,
            market_cap_usd: market_cap,
            volume_24h_usd: market_cap * spec.volume_ratio,
            change_24h_pct: (price / walk::open_24h(&spec, seed, coin) - 1.0) * 100.0,
            updated_at_unix_secs: self.updated_at_unix_secs,
        })
    }
}
