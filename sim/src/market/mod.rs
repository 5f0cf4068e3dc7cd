//! The simulated market: which coins exist, which are listed now, and what each one is worth at
//! the current step.

mod catalogue;
mod clock;
mod info;
mod listing;
mod names;
mod platforms;
mod reposition;
mod synthetic;
mod walk;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

pub(crate) use clock::now_unix_ms;
pub(crate) use info::CoinInfo;
pub(crate) use platforms::Platforms;

pub use catalogue::BUILTIN_COINS;
use catalogue::{Catalogue, CoinIndex};
use clock::Clock;
use listing::Listing;
use walk::Walk;

use crate::SimError;
use crate::state::lock;

#[derive(Debug)]
pub(crate) struct Market {
    seed: u64,
    catalogue: Catalogue,
    clock: Clock,
    /// Whether synthetic coins have a Binance pair ([`crate::StreamConfig::list_synthetic_on_binance`]).
    synthetic_on_binance: bool,
    live: Mutex<Live>,
}

/// What changes while the sim runs, under one lock so a request sees it all at one moment.
#[derive(Debug)]
struct Live {
    /// Only coins that were ever quoted have an entry, so 10,000 synthetic coins cost nothing
    /// until they are.
    walks: HashMap<CoinIndex, Walk>,
    /// Supply multipliers set by `set_rank`; absent is 1.
    scales: HashMap<CoinIndex, f64>,
    listing: Listing,
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

/// One listed coin at one step, described, with its market-cap rank.
#[derive(Debug)]
pub(crate) struct Ranked {
    pub(crate) id: String,
    pub(crate) quote: Quote,
    pub(crate) info: CoinInfo,
    /// 1-based market-cap rank among every listed coin at this step.
    pub(crate) rank: u64,
}

impl Market {
    /// `churn_epoch_secs`: see [`crate::SimConfig::churn_epoch_secs`].
    pub(crate) fn new(
        seed: u64,
        step_ms: u64,
        extra_coins: u32,
        synthetic_on_binance: bool,
        churn_epoch_secs: u64,
    ) -> Self {
        Self {
            seed,
            catalogue: Catalogue::new(extra_coins, seed),
            clock: Clock::new(step_ms),
            synthetic_on_binance,
            live: Mutex::new(Live {
                walks: HashMap::new(),
                scales: HashMap::new(),
                listing: Listing::new(churn_epoch_secs),
            }),
        }
    }

    pub(crate) fn advance(&self, steps: u64) {
        self.clock.advance(steps);
    }

    /// The current step and when it began (unix seconds): the clock of what is priced off the
    /// market but is not a coin (Alpha Vantage's exchange rates).
    pub(crate) fn step_now(&self) -> (u64, u64) {
        (self.clock.step(), self.clock.step_began_unix_secs())
    }

    /// How many coins exist, listed or not.
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

    /// `None` for an unknown or unlisted id.
    pub(crate) fn info(&self, id: &str) -> Option<CoinInfo> {
        let index = self.catalogue.index_of(id)?;
        let quotes = self.quotes();
        quotes.is_listed(index).then(|| quotes.info(index))
    }

    /// Every listed coin at the current step, largest market cap first, and the BTC price in USD
    /// (NaN while bitcoin is unlisted).
    pub(crate) fn ranked(&self) -> (Vec<Ranked>, f64) {
        let mut quotes = self.quotes();
        let btc_usd = quotes.get("bitcoin").map_or(f64::NAN, |q| q.price_usd);
        let ranked = quotes.ranked();
        let coins = ranked
            .into_iter()
            .enumerate()
            .map(|(position, quote)| Ranked {
                id: self.id(quote.index),
                info: quotes.info(quote.index),
                quote,
                rank: position as u64 + 1,
            })
            .collect();
        (coins, btc_usd)
    }

    /// Where the coin at `index` lives as a token.
    pub(crate) fn platforms(&self, index: u64) -> Platforms {
        self.catalogue.platforms(index)
    }

    /// Quotes at the current step; one request's coins all come from the same step and epoch.
    pub(crate) fn quotes(&self) -> Quotes<'_> {
        let live = lock(&self.live);
        Quotes {
            market: self,
            step: self.clock.step(),
            epoch: live.listing.epoch(self.clock.elapsed()),
            updated_at_unix_secs: self.clock.step_began_unix_secs(),
            live,
        }
    }

    /// The catalogue index of the coin a control names.
    pub(crate) fn coin(&self, id: &str) -> Result<CoinIndex, SimError> {
        self.catalogue
            .index_of(id)
            .ok_or_else(|| SimError::UnknownCoin(id.to_owned()))
    }

    /// Refuses to unlist a built-in coin: they are always listed.
    pub(crate) fn check_unlist(&self, coin: CoinIndex) -> Result<(), SimError> {
        match self.catalogue.builtin_id(coin) {
            Some(id) => Err(SimError::AlwaysListed(id.to_owned())),
            None => Ok(()),
        }
    }

    /// Whether churn epochs exist ([`crate::SimConfig::churn_epoch_secs`] > 0).
    pub(crate) fn churns(&self) -> bool {
        lock(&self.live).listing.churns()
    }

    /// Pins a synthetic coin listed or unlisted from now on (a built-in coin stays listed).
    pub(crate) fn pin(&self, coin: CoinIndex, listed: bool) {
        if self.catalogue.synthetic(coin).is_some() {
            lock(&self.live).listing.pin(coin, listed);
        }
    }

    pub(crate) fn advance_epochs(&self, epochs: u64) {
        lock(&self.live).listing.advance(epochs);
    }

    /// Scales the coin's supply so that, in today's ordering of listed coins, its market cap
    /// ranks it at `rank` (see [`reposition`]).
    pub(crate) fn set_rank(&self, coin: CoinIndex, rank: u64) {
        let mut quotes = self.quotes();
        let others: Vec<f64> = quotes
            .ranked()
            .iter()
            .filter(|q| q.index != coin)
            .map(|q| q.market_cap_usd)
            .collect();
        let current = quotes.at(coin).market_cap_usd;
        if let Some(target) = reposition::cap_for_rank(&others, rank) {
            let scale = quotes.live.scales.entry(coin).or_insert(1.0);
            *scale *= target / current;
        }
    }
}

/// The market frozen at one step and epoch, for the length of one request.
#[derive(Debug)]
pub(crate) struct Quotes<'a> {
    market: &'a Market,
    step: u64,
    epoch: u64,
    updated_at_unix_secs: u64,
    live: MutexGuard<'a, Live>,
}

impl Quotes<'_> {
    /// `None` for an unknown or unlisted id.
    pub(crate) fn get(&mut self, id: &str) -> Option<Quote> {
        let coin = self.market.catalogue.index_of(id)?;
        self.is_listed(coin).then(|| self.at(coin))
    }

    /// Every listed coin's quote, largest market cap first: position + 1 is the market-cap rank.
    pub(crate) fn ranked(&mut self) -> Vec<Quote> {
        let listed: Vec<CoinIndex> = (0..self.market.catalogue.len())
            .filter(|&index| self.is_listed(index))
            .collect();
        let mut quotes: Vec<Quote> = listed.into_iter().map(|index| self.at(index)).collect();
        quotes.sort_by(|a, b| b.market_cap_usd.total_cmp(&a.market_cap_usd));
        quotes
    }

    /// Whether the coin at `index` is listed at this moment.
    pub(crate) fn is_listed(&self, index: CoinIndex) -> bool {
        let synthetic = index >= self.market.catalogue.builtin_len();
        self.live
            .listing
            .is_listed(self.market.seed, index, synthetic, self.epoch)
    }

    /// The coin at `index` in `0..coin_count()` described, listed or not.
    pub(crate) fn info(&self, index: CoinIndex) -> CoinInfo {
        let market = self.market;
        info::info(
            &market.catalogue,
            index,
            &self.spec(index),
            self.scale(index),
            market.synthetic_on_binance,
        )
    }

    fn scale(&self, coin: CoinIndex) -> f64 {
        self.live.scales.get(&coin).copied().unwrap_or(1.0)
    }

    /// The coin's parameters with its `set_rank` supply scale applied.
    fn spec(&self, coin: CoinIndex) -> catalogue::CoinSpec {
        let mut spec = self.market.catalogue.spec(coin);
        spec.circulating_supply *= self.scale(coin);
        spec
    }

    fn at(&mut self, coin: CoinIndex) -> Quote {
        let seed = self.market.seed;
        let spec = self.spec(coin);
        let price = self
            .live
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
