//! Which coins are listed now. Coins come and go on real catalogues; here time is cut into churn
//! epochs of [`crate::SimConfig::churn_epoch_secs`] on the sim's own clock (wall time since
//! start, plus epochs added by the `advance_churn_epochs` control; price steps do not move it).
//! In every epoch but the first, each synthetic coin is unlisted with probability
//! [`CHURN_SHARE`], drawn from the seed per coin and epoch: about 1% vanish when an epoch
//! begins, and most of those are back in the next one, while others vanish. Epoch 0 lists every
//! coin, so a sim younger than one epoch has a stable universe. Built-in coins are always listed.
//!
//! The `unlist` and `relist` controls pin a synthetic coin unlisted or listed from then on,
//! whatever the churn says. An unlisted coin is absent everywhere: CoinGecko's lists, prices and
//! coin pages (404), CoinLore, Binance and CoinCap.

use std::collections::HashMap;
use std::time::Duration;

use super::catalogue::CoinIndex;
use crate::rng;

/// The share of synthetic coins unlisted in each epoch after the first.
pub(crate) const CHURN_SHARE: f64 = 0.01;
/// Counters of each coin's stream used for churn: `CHURN + epoch` (far from the walks' and the
/// catalogue's counters).
const CHURN: u64 = 3 * (u64::MAX / 4);

#[derive(Debug)]
pub(crate) struct Listing {
    /// 0: no churn at all.
    epoch_secs: u64,
    /// Epochs added by `advance_churn_epochs`, on top of those time has brought.
    manual_epochs: u64,
    /// Coins pinned listed (`true`) or unlisted (`false`) by a control.
    pinned: HashMap<CoinIndex, bool>,
}

impl Listing {
    pub(crate) fn new(epoch_secs: u64) -> Self {
        Self {
            epoch_secs,
            manual_epochs: 0,
            pinned: HashMap::new(),
        }
    }

    /// The epoch `elapsed` after the sim started.
    pub(crate) fn epoch(&self, elapsed: Duration) -> u64 {
        match self.epoch_secs {
            0 => 0,
            secs => elapsed.as_secs() / secs + self.manual_epochs,
        }
    }

    /// Whether epochs exist, so `advance_churn_epochs` means something.
    pub(crate) fn churns(&self) -> bool {
        self.epoch_secs > 0
    }

    pub(crate) fn advance(&mut self, epochs: u64) {
        self.manual_epochs = self.manual_epochs.saturating_add(epochs);
    }

    pub(crate) fn pin(&mut self, coin: CoinIndex, listed: bool) {
        self.pinned.insert(coin, listed);
    }

    /// Whether `coin` (a synthetic one when `synthetic`) is listed in `epoch`.
    pub(crate) fn is_listed(
        &self,
        seed: u64,
        coin: CoinIndex,
        synthetic: bool,
        epoch: u64,
    ) -> bool {
        if !synthetic {
            return true;
        }
        if let Some(&pinned) = self.pinned.get(&coin) {
            return pinned;
        }
        if self.epoch_secs == 0 || epoch == 0 {
            return true;
        }
        rng::unit(seed, coin, CHURN.wrapping_add(epoch)) >= CHURN_SHARE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlisted(listing: &Listing, epoch: u64) -> Vec<CoinIndex> {
        (15..10_015)
            .filter(|&coin| !listing.is_listed(3, coin, true, epoch))
            .collect()
    }

    #[test]
    fn about_one_percent_vanish_each_epoch_and_most_come_back() {
        let listing = Listing::new(3600);
        assert!(unlisted(&listing, 0).is_empty(), "epoch 0 lists every coin");
        let one = unlisted(&listing, 1);
        let two = unlisted(&listing, 2);
        assert!((60..140).contains(&one.len()), "{} unlisted", one.len());
        let back = one.iter().filter(|c| !two.contains(c)).count();
        assert!(back > one.len() * 9 / 10, "{back} of {} back", one.len());
        assert!(listing.is_listed(3, 2, false, 1), "built-in coins stay");
    }

    #[test]
    fn epochs_pass_with_time_and_on_request_and_not_at_all_without_churn() {
        let mut listing = Listing::new(3600);
        assert_eq!(listing.epoch(Duration::from_secs(3599)), 0);
        assert_eq!(listing.epoch(Duration::from_secs(7200)), 2);
        listing.advance(3);
        assert_eq!(listing.epoch(Duration::from_secs(10)), 3);
        let off = Listing::new(0);
        assert!(!off.churns());
        assert_eq!(off.epoch(Duration::from_secs(1_000_000)), 0);
        assert!(unlisted(&off, 7).is_empty());
    }

    #[test]
    fn a_pinned_coin_ignores_the_churn() {
        let mut listing = Listing::new(3600);
        let vanished = unlisted(&listing, 1)[0];
        listing.pin(vanished, true);
        listing.pin(20, false);
        assert!(listing.is_listed(3, vanished, true, 1));
        assert!(!listing.is_listed(3, 20, true, 0));
    }
}
