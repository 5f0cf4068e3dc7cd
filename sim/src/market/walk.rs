//! One coin's price path: a mean-reverting random walk of the log price around its anchor, or, for
//! a stablecoin, small independent wobbles around the peg. Step `k`'s shock is a pure function of
//! (seed, coin, k), so the path is the same however lazily it is computed.

use super::catalogue::{CoinIndex, CoinSpec};
use crate::rng;

/// Standard deviation of one step's log-return.
const SIGMA: f64 = 0.001;
/// Pull back toward the anchor per step; keeps the walk within a few percent (σ/√(2θ) ≈ 3%).
const THETA: f64 = 0.0005;
/// A stablecoin's wobble around its peg, and how far it may stray.
const PEG_SIGMA: f64 = 0.0003;
const PEG_BAND: f64 = 0.002;
/// Where a walk starts, and where "24 hours ago" sits, relative to the anchor (log deviation);
/// about the walk's own long-run spread σ/√(2θ).
const START_SIGMA: f64 = 0.03;
/// Counter of a coin's stream reserved for its 24h-ago price (walk steps use small counters).
const OPEN: u64 = u64::MAX / 4;

/// Where a coin's walk has got to; advanced lazily when the coin is quoted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    step: u64,
    /// ln(price / anchor) at `step`.
    deviation: f64,
}

impl Walk {
    /// Step 0 is a seeded point near the anchor, so even a fresh sim has unround prices.
    pub(crate) fn start(seed: u64, coin: CoinIndex) -> Self {
        Self {
            step: 0,
            deviation: START_SIGMA * rng::normal(seed, coin, 0),
        }
    }

    /// The price at `step` (never before the walk's current step).
    pub(crate) fn price_at(
        &mut self,
        spec: &CoinSpec,
        seed: u64,
        coin: CoinIndex,
        step: u64,
    ) -> f64 {
        if spec.stable {
            return spec.anchor_usd * (1.0 + peg_wobble(seed, coin, step));
        }
        while self.step < step {
            self.step += 1;
            let shock = SIGMA * rng::normal(seed, coin, self.step);
            self.deviation = (1.0 - THETA) * self.deviation + shock;
        }
        spec.anchor_usd * self.deviation.exp()
    }
}

/// The price 24 hours ago, fixed per seed and coin: the 24h change is measured against it.
pub(crate) fn open_24h(spec: &CoinSpec, seed: u64, coin: CoinIndex) -> f64 {
    if spec.stable {
        spec.anchor_usd * (1.0 + peg_wobble(seed, coin, OPEN))
    } else {
        spec.anchor_usd * (START_SIGMA * rng::normal(seed, coin, OPEN)).exp()
    }
}

fn peg_wobble(seed: u64, coin: CoinIndex, counter: u64) -> f64 {
    (PEG_SIGMA * rng::normal(seed, coin, counter)).clamp(-PEG_BAND, PEG_BAND)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BTC: CoinSpec = CoinSpec {
        anchor_usd: 95_000.0,
        circulating_supply: 19.8e6,
        volume_ratio: 0.03,
        stable: false,
    };
    const USDT: CoinSpec = CoinSpec {
        anchor_usd: 1.0,
        circulating_supply: 1.0e9,
        volume_ratio: 0.4,
        stable: true,
    };

    #[test]
    fn a_path_is_the_same_computed_at_once_or_step_by_step() {
        let at_once = Walk::start(9, 2).price_at(&BTC, 9, 2, 500);
        let mut stepwise = Walk::start(9, 2);
        for step in 0..=500 {
            stepwise.price_at(&BTC, 9, 2, step);
        }
        assert_eq!(stepwise.price_at(&BTC, 9, 2, 500), at_once);
        assert_ne!(at_once, 95_000.0);
    }

    #[test]
    fn a_long_walk_stays_near_its_anchor() {
        let price = Walk::start(1, 2).price_at(&BTC, 1, 2, 100_000);
        assert!((60_000.0..150_000.0).contains(&price), "price {price}");
    }

    #[test]
    fn a_stablecoin_stays_near_its_peg() {
        let mut walk = Walk::start(3, 0);
        for step in 0..1000 {
            let price = walk.price_at(&USDT, 3, 0, step);
            assert!((0.998..=1.002).contains(&price), "price {price}");
        }
    }
}
