//! `[catalogue]`: how the coin catalogue is refreshed (the `catalogue` schedule entry says
//! when; daily by default, and at first start).

use serde::{Deserialize, Serialize};

/// The catalogue refresh's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogueSettings {
    /// Ranks are read for the top this-many coins (CoinGecko `/coins/markets`, 250 a page, so
    /// 5,000 costs 20 calls); coins past it are catalogued without a rank. Deeper ranks cost
    /// calls and change nothing a tier needs when the last tier starts above them.
    pub rank_depth: u32,
    /// A new listing with fewer coins than this share (percent) of the stored catalogue is
    /// refused as truncated; the stored one stays. 0 accepts any listing.
    pub min_share_pct: u32,
    /// How many coins the plan check (`coinbeat plan`) takes the catalogue to list, for the
    /// cost of a tier without a last rank.
    pub expected_coins: u32,
}

impl Default for CatalogueSettings {
    fn default() -> Self {
        Self {
            rank_depth: 5_000,
            min_share_pct: 50,
            expected_coins: 15_000,
        }
    }
}

impl CatalogueSettings {
    /// `/coins/markets` pages of `per_page` rows that cover `rank_depth`.
    pub fn rank_pages(&self, per_page: u32) -> u32 {
        self.rank_depth.div_ceil(per_page.max(1))
    }
}
