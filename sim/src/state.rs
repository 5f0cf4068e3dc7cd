//! Everything a running simulator shares between its routes and its handle.

use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::limiter::SlidingWindow;
use crate::market::Market;
use crate::{ControlRequest, Faults, Served, SimConfig, SimError, Stats};

#[derive(Debug)]
pub(crate) struct SimState {
    pub(crate) seed: u64,
    pub(crate) market: Market,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) limiter: Mutex<SlidingWindow>,
    pub(crate) stats: Mutex<Stats>,
    pub(crate) served: Mutex<Served>,
    /// Empty: keys are optional and any key is accepted.
    api_keys: Vec<String>,
    /// Numbers admitted requests, so injected errors follow the seed.
    pub(crate) admitted: AtomicU64,
}

impl SimState {
    pub(crate) fn new(config: &SimConfig) -> Result<Self, SimError> {
        Ok(Self {
            seed: config.seed,
            market: Market::new(config.seed, config.step_ms, config.extra_coins),
            faults: Mutex::new(config.faults.validate()?),
            limiter: Mutex::default(),
            stats: Mutex::default(),
            served: Mutex::default(),
            api_keys: config.api_keys.clone(),
            admitted: AtomicU64::new(0),
        })
    }

    pub(crate) fn accepts_key(&self, key: Option<&str>) -> bool {
        self.api_keys.is_empty() || key.is_some_and(|k| self.api_keys.iter().any(|a| a == k))
    }

    /// Applies a change of faults (all or nothing) and advances the market; returns the faults now
    /// in force.
    pub(crate) fn control(&self, change: &ControlRequest) -> Result<Faults, SimError> {
        let mut faults = lock(&self.faults);
        *faults = change.apply_to(*faults)?;
        if let Some(steps) = change.advance_steps {
            self.market.advance(steps);
        }
        Ok(*faults)
    }

    /// Zeroes the counters and forgets the rate-limit window; served prices are kept.
    pub(crate) fn reset(&self) {
        *lock(&self.stats) = Stats::default();
        lock(&self.limiter).clear();
    }
}

/// Locks a mutex even if a panicking request poisoned it: every guarded value here stays
/// consistent between statements, and the sim must keep answering.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
