//! The simulated market: which coins exist and what each one is worth at the current step.

mod catalogue;
mod clock;
mod info;
mod walk;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

pub(crate) use clock::now_unix_ms;
pub(crate) use info::CoinInfo;

use catalogue::{Catalogue, CoinIndex};
use clock::Clock;
use walk::Walk;

use crate::state::lock;

#[derive(Debug)]
pub(crate) struct Market {
    seed: u64,
    catalogue: Catalogue,
    clock: Clock,
    /// Whether synthetic coins have a Binance pair ([`crate::StreamConfig::list_synthetic_on_binance`]).
    synthetic_on_binance: bool,
    /// Only coins that were ever quoted have an entry, so 10,000 synthetic coins cost nothing.
    walks: Mutex<HashMap<CoinIndex, Walk>>,
}

/// A coin's numbers in USD at one step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quote {
    /// The coin's place in the catalogue (not its rank).
    pub(crate) index: u64,
    /// The price 24 hours ago, which the 24h change is measured against.
    pub(crate) open_24h_usd: f64,
    pub(crate) circulating_supply: f64,
    pub(crate) price_usd: f64,
    pub(crate) market_cap_usd: f64,
    pub(crate) volume_24h_usd: f64,
    pub(crate) change_24h_pct: f64,
    pub(crate) updated_at_unix_secs: u64,
}

impl Market {
    pub(crate) fn new(
        seed: u64,
        step_ms: u64,
        extra_coins: u32,
        synthetic_on_binance: bool,
    ) -> Self {
        Self {
            seed,
            catalogue: Catalogue::new(extra_coins),
            clock: Clock::new(step_ms),
            synthetic_on_binance,
            walks: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn advance(&self, steps: u64) {
        self.clock.advance(steps);
    }

    /// How many coins exist.
    pub(crate) fn coin_count(&self) -> u64 {
        self.catalogue.len()
    }

    /// How many coins Binance may list: the built-in ones, or every coin when synthetic ones are
    /// listed too. They come first in the catalogue, so `0..this` covers them.
    pub(crate) fn binance_candidates(&self) -> u64 {
        if self.synthetic_on_binance {
            self.catalogue.len()
        } else {
            self.catalogue.builtin_len()
        }
    }

    /// The CoinGecko id of the coin at `index`.
    pub(crate) fn id(&self, index: u64) -> String {
        self.catalogue.id(index)
    }

    /// `None` for an unknown id.
    pub(crate) fn info(&self, id: &str) -> Option<CoinInfo> {
        let index = self.catalogue.index_of(id)?;
        let spec = self.catalogue.spec(index, self.seed);
        Some(info::info(id, index, &spec, self.synthetic_on_binance))
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
        let coin = self.market.catalogue.index_of(id)?;
        Some(self.at(coin))
    }

    /// Every coin's quote, largest market cap first: position + 1 is the market-cap rank.
    pub(crate) fn ranked(&mut self) -> Vec<Quote> {
        let mut quotes: Vec<Quote> = (0..self.market.catalogue.len())
            .map(|index| self.at(index))
            .collect();
        quotes.sort_by(|a, b| b.market_cap_usd.total_cmp(&a.market_cap_usd));
        quotes
    }

    fn at(&mut self, coin: CoinIndex) -> Quote {
        let Market {
            seed, catalogue, ..
        } = *self.market;
        let spec = catalogue.spec(coin, seed);
        let price = self
            .walks
            .entry(coin)
            .or_insert_with(|| Walk::start(seed, coin))
            .price_at(&spec, seed, coin, self.step);
        let market_cap = price * spec.circulating_supply;
        let open = walk::open_24h(&spec, seed, coin);
        Quote {
            index: coin,
            open_24h_usd: open,
            circulating_supply: spec.circulating_supply,
            price_usd: price,
            market_cap_usd: market_cap,
            volume_24h_usd: market_cap * spec.volume_ratio,
            change_24h_pct: (price / open - 1.0) * 100.0,
            updated_at_unix_secs: self.updated_at_unix_secs,
        }
    }
}
