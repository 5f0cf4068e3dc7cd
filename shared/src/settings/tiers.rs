//! `[prices.tiers.<name>]`: the catalogue's coins refreshed by rank, each band of ranks at its
//! own interval from its own source. The beat runs one schedule entry per tier
//! (`prices-<name>`, see [`super::PricesSettings::extend_schedule`]); membership is the
//! catalogue's rank when the job runs, so a coin changes tier at the next catalogue refresh.
//!
//! The defaults fit a free setup for a month (see `coinbeat plan`):
//!
//! | tier   | ranks      | every  | source   | calls                                      |
//! |--------|------------|--------|----------|--------------------------------------------|
//! | top    | 1-100      | 30 s   | Binance  | 1 `/ticker/24hr` (weight 80 of 6,000/min), one CoinLore page for coins Binance lacks |
//! | major  | 101-1,000  | 2 min  | CoinLore | 9 pages                                    |
//! | minor  | 1,001-5,000| 10 min | CoinLore | 40 pages                                   |
//! | rest   | 5,001-     | 1 h    | CoinLore | the rest of the list (~100 pages), unranked coins included |
//!
//! None of them spends CoinGecko calls: its free plan's 10,000 a month are kept for the tracked
//! coins, the markets, the supply figures and the catalogue. CoinLore needs no key and asks
//! clients for about one request a second; these tiers use about 0.2 a second on average.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a tier's prices come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TierSource {
    /// One `/ticker/24hr` of every pair (USDT pairs used), with CoinLore's pages for the tier's
    /// coins Binance does not list.
    Binance,
    /// CoinLore's `/tickers/` pages covering the tier's ranks (100 coins a page).
    Coinlore,
    /// CoinGecko's `/simple/price`, `max_ids_per_request` coins a call.
    Coingecko,
}

impl TierSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Binance => "binance",
            Self::Coinlore => "coinlore",
            Self::Coingecko => "coingecko",
        }
    }
}

/// One tier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TierSettings {
    /// The first catalogue rank of the tier (1 is the largest market cap).
    pub from: u32,
    /// The last rank; left out, the tier is everything past `from`, unranked coins included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u32>,
    /// Seconds between refreshes: one of [`INTERVALS`] (each divides a minute, an hour or a
    /// day, so the beat's cron ticks evenly).
    pub every_secs: u64,
    pub source: TierSource,
    /// A disabled tier is not scheduled (a default tier is switched off this way).
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// The intervals a tier may have, in seconds.
pub const INTERVALS: [u64; 30] = [
    1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 300, 360, 600, 720, 900, 1_200, 1_800,
    3_600, 7_200, 10_800, 14_400, 21_600, 28_800, 43_200, 86_400,
];

/// Coins on one CoinLore `/tickers/` page.
pub const COINLORE_PAGE: u32 = 100;

impl TierSettings {
    fn new(from: u32, to: Option<u32>, every_secs: u64, source: TierSource) -> Self {
        Self {
            from,
            to,
            every_secs,
            source,
            enabled: true,
        }
    }

    /// Whether a coin of `rank` (`None`: unranked) belongs here.
    pub fn holds(&self, rank: Option<u32>) -> bool {
        match (rank, self.to) {
            (Some(rank), Some(to)) => (self.from..=to).contains(&rank),
            (Some(rank), None) => rank >= self.from,
            (None, to) => to.is_none(),
        }
    }

    /// The last rank, with an open tier taken to end at `listed` coins.
    pub fn last(&self, listed: u32) -> u32 {
        self.to.unwrap_or(listed).max(self.from)
    }

    /// How many coins the tier holds when `listed` coins are catalogued.
    pub fn size(&self, listed: u32) -> u32 {
        self.last(listed) + 1 - self.from
    }

    /// CoinLore pages (`start` offsets) covering the tier's ranks exactly: the fewest that can
    /// hold its coins, when CoinLore ranks as the catalogue does.
    pub fn coinlore_pages(&self, listed: u32) -> std::ops::Range<u32> {
        let first = (self.from - 1) / COINLORE_PAGE;
        first..self.last(listed).div_ceil(COINLORE_PAGE)
    }

    /// `ranks 1-100`, `ranks 5001+`.
    pub fn ranks(&self) -> String {
        match self.to {
            Some(to) => format!("{}-{to}", self.from),
            None => format!("{}+", self.from),
        }
    }
}

/// The default tiers (see the module's table).
pub fn default_tiers() -> BTreeMap<String, TierSettings> {
    use TierSource::*;
    BTreeMap::from([
        (
            "top".to_owned(),
            TierSettings::new(1, Some(100), 30, Binance),
        ),
        (
            "major".to_owned(),
            TierSettings::new(101, Some(1_000), 120, Coinlore),
        ),
        (
            "minor".to_owned(),
            TierSettings::new(1_001, Some(5_000), 600, Coinlore),
        ),
        (
            "rest".to_owned(),
            TierSettings::new(5_001, None, 3_600, Coinlore),
        ),
    ])
}

/// Checks the enabled tiers: names usable in a schedule entry's name, ranks from 1 with
/// `to >= from`, intervals from [`INTERVALS`], no rank in two tiers.
pub fn validate(tiers: &BTreeMap<String, TierSettings>) -> Result<(), String> {
    let mut enabled: Vec<(&String, &TierSettings)> =
        tiers.iter().filter(|(_, tier)| tier.enabled).collect();
    for (name, tier) in &enabled {
        let at = format!("[prices.tiers.{name}]");
        let name_ok = !name.is_empty()
            && name.len() <= 40
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(format!(
                "{at}: a tier's name is 1 to 40 lowercase letters, digits, '-' or '_'"
            ));
        }
        if tier.from == 0 {
            return Err(format!("{at}: ranks start at 1 (from = 0)"));
        }
        if tier.to.is_some_and(|to| to < tier.from) {
            return Err(format!(
                "{at}: to ({}) is below from ({})",
                tier.to.unwrap_or(0),
                tier.from
            ));
        }
        if !INTERVALS.contains(&tier.every_secs) {
            return Err(format!(
                "{at}: every_secs = {} does not divide a minute, an hour or a day evenly; \
                 use one of {INTERVALS:?}",
                tier.every_secs
            ));
        }
    }
    enabled.sort_by_key(|(_, tier)| tier.from);
    for pair in enabled.windows(2) {
        let ((a, first), (b, second)) = (pair[0], pair[1]);
        if first.to.is_none_or(|to| to >= second.from) {
            return Err(format!(
                "[prices.tiers]: {a} (ranks {}) and {b} (ranks {}) overlap; a coin is in one tier",
                first.ranks(),
                second.ranks()
            ));
        }
    }
    Ok(())
}

/// The cron expression (seconds first) that ticks every `every_secs`, at `offset` seconds past
/// the minute for intervals of a minute or more (so tiers do not all tick at once).
pub fn cron_every(every_secs: u64, offset: u64) -> String {
    let offset = offset % 60;
    match every_secs {
        s if s < 60 => format!("*/{s} * * * * *"),
        s if s < 3_600 => format!("{offset} */{} * * * *", s / 60),
        s if s < 86_400 => format!("{offset} 0 */{} * * *", s / 3_600),
        _ => format!("{offset} 0 0 * * *"),
    }
}

/// The smallest allowed interval at least `secs` (a day at most).
pub fn interval_at_least(secs: u64) -> u64 {
    INTERVALS
        .iter()
        .copied()
        .find(|&i| i >= secs)
        .unwrap_or(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tiers_cover_every_rank_once_and_check_out() {
        let tiers = default_tiers();
        validate(&tiers).unwrap();
        for rank in [1, 100, 101, 1_000, 1_001, 5_000, 5_001, 14_000] {
            let holding: Vec<&String> = tiers
                .iter()
                .filter(|(_, t)| t.holds(Some(rank)))
                .map(|(n, _)| n)
                .collect();
            assert_eq!(holding.len(), 1, "rank {rank}: {holding:?}");
        }
        assert!(tiers["rest"].holds(None) && !tiers["top"].holds(None));
        assert_eq!(tiers["major"].coinlore_pages(14_000), 1..10);
        assert_eq!(tiers["top"].coinlore_pages(14_000), 0..1);
        assert_eq!(tiers["rest"].coinlore_pages(14_000), 50..140);
        assert_eq!(tiers["rest"].size(14_000), 9_000);
    }

    #[test]
    fn bad_tiers_are_refused_with_the_reason() {
        let mut tiers = default_tiers();
        tiers.get_mut("major").unwrap().from = 90;
        assert!(validate(&tiers).unwrap_err().contains("overlap"));
        let mut tiers = default_tiers();
        tiers.get_mut("major").unwrap().enabled = false;
        validate(&tiers).unwrap();
        tiers.get_mut("top").unwrap().every_secs = 7;
        assert!(validate(&tiers).unwrap_err().contains("every_secs = 7"));
        let mut tiers = default_tiers();
        tiers.get_mut("top").unwrap().to = Some(0);
        assert!(validate(&tiers).unwrap_err().contains("below"));
        let mut tiers = default_tiers();
        tiers.insert(
            "Top!".into(),
            TierSettings::new(20_000, None, 60, TierSource::Binance),
        );
        assert!(validate(&tiers).unwrap_err().contains("name"));
    }

    #[test]
    fn crons_tick_at_the_interval() {
        assert_eq!(cron_every(30, 5), "*/30 * * * * *");
        assert_eq!(cron_every(120, 5), "5 */2 * * * *");
        assert_eq!(cron_every(3_600, 15), "15 0 */1 * * *");
        assert_eq!(cron_every(86_400, 25), "25 0 0 * * *");
        assert_eq!(interval_at_least(45), 60);
        assert_eq!(interval_at_least(100_000), 86_400);
    }
}
