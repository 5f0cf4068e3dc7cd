//! Everything a running simulator shares between its routes and its handle.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::arrivals::Arrivals;
use crate::connection::Drops;
use crate::etherscan::Ledgers;
use crate::limiter::{SlidingWindow, WeightWindow};
use crate::market::Market;
use crate::{ControlRequest, Faults, Provider, Served, SimConfig, SimError, Stats};

#[derive(Debug)]
pub(crate) struct SimState {
    pub(crate) seed: u64,
    pub(crate) market: Market,
    pub(crate) faults: Mutex<Faults>,
    /// The per-minute request limit's window, one per provider.
    pub(crate) limiters: Mutex<BTreeMap<Provider, SlidingWindow>>,
    /// Binance's request weight over the last minute.
    pub(crate) binance_weight: Mutex<WeightWindow>,
    /// Etherscan's calls over the last second.
    pub(crate) etherscan_calls: Mutex<WeightWindow>,
    /// Each provider's own per-second limit (`ProviderFaults::calls_per_sec`).
    pub(crate) per_second: Mutex<BTreeMap<Provider, WeightWindow>>,
    /// Each provider's own per-day limit (`ProviderFaults::calls_per_day`).
    pub(crate) per_day: Mutex<BTreeMap<Provider, WeightWindow>>,
    /// A one-shot rate-limit answer per provider: its `Retry-After` in seconds.
    pub(crate) throttle_once: Mutex<BTreeMap<Provider, u64>>,
    /// When each provider request arrived, per provider.
    pub(crate) arrivals: Mutex<Arrivals>,
    pub(crate) ledgers: Ledgers,
    pub(crate) stats: Mutex<Stats>,
    pub(crate) served: Mutex<Served>,
    /// Empty: CoinGecko keys are optional and any key is accepted.
    api_keys: Vec<String>,
    /// Numbers admitted requests, so injected errors follow the seed.
    pub(crate) admitted: AtomicU64,
    /// How the WebSocket streams tick.
    pub(crate) streams: crate::StreamConfig,
    /// The last aggregate trade id handed out, shared by every stream connection.
    pub(crate) trade_ids: AtomicU64,
    /// Numbers the draws of `stream_malformed_rate`, so malformed frames follow the seed.
    pub(crate) malformed_draws: AtomicU64,
    /// What `drop_streams` bumps to close each provider's open stream connections.
    pub(crate) drops: Drops,
}

impl SimState {
    pub(crate) fn new(config: &SimConfig) -> Result<Self, SimError> {
        Ok(Self {
            seed: config.seed,
            market: Market::new(
                config.seed,
                config.step_ms,
                config.extra_coins,
                config.streams.list_synthetic_on_binance,
                config.churn_epoch_secs,
            ),
            faults: Mutex::new(config.faults.validate()?),
            limiters: Mutex::default(),
            binance_weight: Mutex::new(WeightWindow::new(Duration::from_secs(60))),
            etherscan_calls: Mutex::new(WeightWindow::new(Duration::from_secs(1))),
            per_second: Mutex::default(),
            per_day: Mutex::default(),
            throttle_once: Mutex::default(),
            arrivals: Mutex::default(),
            ledgers: Ledgers::new(config.seed),
            stats: Mutex::default(),
            served: Mutex::default(),
            api_keys: config.api_keys.clone(),
            admitted: AtomicU64::new(0),
            streams: config.streams,
            trade_ids: AtomicU64::new(0),
            malformed_draws: AtomicU64::new(0),
            drops: Drops::new(),
        })
    }

    pub(crate) fn accepts_key(&self, key: Option<&str>) -> bool {
        self.api_keys.is_empty() || key.is_some_and(|k| self.api_keys.iter().any(|a| a == k))
    }

    /// A key is required: any non-empty one when no keys are configured.
    pub(crate) fn accepts_required_key(&self, key: Option<&str>) -> bool {
        key.is_some_and(|k| !k.trim().is_empty()) && self.accepts_key(key)
    }

    /// Applies a change of faults and of the market (all or nothing: everything is checked
    /// before anything changes), advances the market and drops streams as asked; returns the
    /// faults now in force.
    pub(crate) fn control(&self, change: &ControlRequest) -> Result<Faults, SimError> {
        let market = &self.market;
        let unlist = change
            .unlist
            .as_deref()
            .map(|id| {
                let coin = market.coin(id)?;
                market.check_unlist(coin).map(|()| coin)
            })
            .transpose()?;
        let relist = change
            .relist
            .as_deref()
            .map(|id| market.coin(id))
            .transpose()?;
        if change.advance_churn_epochs.is_some() && !market.churns() {
            return Err(SimError::NoChurn);
        }
        let set_rank = change
            .set_rank
            .as_ref()
            .map(|set| match set.rank {
                0 => Err(SimError::ZeroRank),
                rank => market.coin(&set.id).map(|coin| (coin, rank)),
            })
            .transpose()?;
        let faults = {
            let mut faults = lock(&self.faults);
            *faults = change.apply_to(*faults)?;
            *faults
        };
        if let Some(steps) = change.advance_steps {
            market.advance(steps);
        }
        if let (Some(provider), Some(secs)) = (change.provider, change.throttle_once_secs) {
            lock(&self.throttle_once).insert(provider, secs);
        }
        if let (Some(provider), Some(true)) = (change.provider, change.drop_streams) {
            self.drops.order(provider);
        }
        if let Some(coin) = unlist {
            market.pin(coin, false);
        }
        if let Some(coin) = relist {
            market.pin(coin, true);
        }
        if let Some(epochs) = change.advance_churn_epochs {
            market.advance_epochs(epochs);
        }
        if let Some((coin, rank)) = set_rank {
            market.set_rank(coin, rank);
        }
        Ok(faults)
    }

    /// Zeroes the counters and forgets every rate-limit window; served prices, faults and the
    /// market's state (steps, ranks, listings, churn epochs) are kept.
    pub(crate) fn reset(&self) {
        *lock(&self.stats) = Stats::default();
        lock(&self.limiters).clear();
        lock(&self.binance_weight).clear();
        lock(&self.etherscan_calls).clear();
        lock(&self.per_second).clear();
        lock(&self.per_day).clear();
        lock(&self.throttle_once).clear();
        lock(&self.arrivals).clear();
    }
}

/// Locks a mutex even if a panicking request poisoned it: every guarded value here stays
/// consistent between statements, and the sim must keep answering.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
