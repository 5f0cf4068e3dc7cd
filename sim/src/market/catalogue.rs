//! Which coins exist: the built-in ones with their real CoinGecko ids and realistic anchors, plus
//! `--extra-coins` synthetic ones whose parameters derive from the seed.

use crate::rng;

/// A coin's parameters; its price moves around `anchor_usd`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CoinSpec {
    pub(crate) anchor_usd: f64,
    pub(crate) circulating_supply: f64,
    /// 24h volume as a fraction of market cap.
    pub(crate) volume_ratio: f64,
    /// Stablecoins hover around their peg instead of walking.
    pub(crate) stable: bool,
}

struct Listed {
    id: &'static str,
    spec: CoinSpec,
}

const fn coin(id: &'static str, anchor_usd: f64, supply: f64, volume_ratio: f64) -> Listed {
    let spec = CoinSpec {
        anchor_usd,
        circulating_supply: supply,
        volume_ratio,
        stable: false,
    };
    Listed { id, spec }
}

const fn stablecoin(id: &'static str, supply: f64, volume_ratio: f64) -> Listed {
    let spec = CoinSpec {
        anchor_usd: 1.0,
        circulating_supply: supply,
        volume_ratio,
        stable: true,
    };
    Listed { id, spec }
}

/// The twelve coins coinbeat tracks by default, then sub-cent coins that exercise number text.
const LISTED: &[Listed] = &[
    stablecoin("tether", 150.0e9, 0.45),
    coin("tron", 0.25, 94.7e9, 0.03),
    coin("bitcoin", 95_000.0, 19.8e6, 0.03),
    coin("litecoin", 100.0, 75.5e6, 0.06),
    stablecoin("usd-coin", 60.0e9, 0.12),
    coin("ethereum", 3_500.0, 120.7e6, 0.06),
    coin("worldcoin-wld", 2.0, 1.3e9, 0.09),
    coin("polygon-ecosystem-token", 0.5, 10.5e9, 0.04),
    coin("optimism", 2.0, 1.6e9, 0.08),
    coin("solana", 200.0, 480.0e6, 0.07),
    coin("binancecoin", 650.0, 145.0e6, 0.02),
    coin("avalanche-2", 40.0, 410.0e6, 0.05),
    coin("shiba-inu", 0.000_022, 589.3e12, 0.04),
    coin("pepe", 0.000_009_8, 420.69e12, 0.10),
    coin("bonk", 0.000_028, 77.0e12, 0.08),
];

const EXTRA_PREFIX: &str = "sim-coin-";
/// Counters of the seed's streams reserved for synthetic coins' parameters (walks use small ones).
const ANCHOR: u64 = u64::MAX;
const SUPPLY: u64 = u64::MAX - 1;
const VOLUME: u64 = u64::MAX - 2;

/// A coin's position in the catalogue; it names the coin's random stream.
pub(crate) type CoinIndex = u64;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Catalogue {
    extra_coins: u32,
}

impl Catalogue {
    pub(crate) fn new(extra_coins: u32) -> Self {
        Self { extra_coins }
    }

    /// Ids are exact and case-sensitive, as on CoinGecko.
    pub(crate) fn index_of(&self, id: &str) -> Option<CoinIndex> {
        if let Some(i) = LISTED.iter().position(|c| c.id == id) {
            return Some(i as CoinIndex);
        }
        let digits = id.strip_prefix(EXTRA_PREFIX)?;
        let n: u32 = digits.parse().ok()?;
        // Only the canonical spelling: `sim-coin-1` is not `sim-coin-00001`.
        let canonical = (1..=self.extra_coins).contains(&n) && extra_id(n) == id;
        canonical.then(|| (LISTED.len() as u64) + u64::from(n) - 1)
    }

    /// Built-in coins first, then synthetic ones.
    pub(crate) fn len(&self) -> u64 {
        LISTED.len() as u64 + u64::from(self.extra_coins)
    }

    /// The built-in coins, which come before the synthetic ones.
    pub(crate) fn builtin_len(&self) -> u64 {
        LISTED.len() as u64
    }

    /// The CoinGecko id of a coin in `0..len()`.
    pub(crate) fn id(&self, index: CoinIndex) -> String {
        match LISTED.get(index as usize) {
            Some(listed) => listed.id.to_owned(),
            None => extra_id((index - LISTED.len() as u64 + 1) as u32),
        }
    }

    pub(crate) fn spec(&self, index: CoinIndex, seed: u64) -> CoinSpec {
        match LISTED.get(index as usize) {
            Some(listed) => listed.spec,
            None => CoinSpec {
                // Log-uniform anchors from 1e-6 to 1e4 USD cover sub-cent coins and big ones.
                anchor_usd: 10f64.powf(-6.0 + 10.0 * rng::unit(seed, index, ANCHOR)),
                circulating_supply: 10f64.powf(6.0 + 6.0 * rng::unit(seed, index, SUPPLY)),
                volume_ratio: 0.01 + 0.2 * rng::unit(seed, index, VOLUME),
                stable: false,
            },
        }
    }
}

/// The id of the `n`th synthetic coin (1-based).
pub(crate) fn extra_id(n: u32) -> String {
    format!("{EXTRA_PREFIX}{n:05}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_ids_are_found_exactly_and_case_sensitively() {
        let catalogue = Catalogue::new(0);
        assert_eq!(catalogue.index_of("tether"), Some(0));
        assert!(catalogue.index_of("avalanche-2").is_some());
        assert_eq!(catalogue.index_of("Bitcoin"), None);
        assert_eq!(catalogue.index_of("sim-coin-00001"), None);
    }

    #[test]
    fn extra_coins_exist_up_to_the_configured_count_in_canonical_spelling() {
        let catalogue = Catalogue::new(10_000);
        let first = catalogue.index_of("sim-coin-00001");
        assert_eq!(first, Some(LISTED.len() as u64));
        assert!(catalogue.index_of(&extra_id(10_000)).is_some());
        assert_eq!(catalogue.index_of(&extra_id(10_001)), None);
        assert_eq!(catalogue.index_of("sim-coin-1"), None);
        assert_eq!(catalogue.index_of("sim-coin-00000"), None);
    }
}
