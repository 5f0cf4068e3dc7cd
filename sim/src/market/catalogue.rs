//! Which coins exist: the built-in ones with their real CoinGecko ids and realistic anchors, plus
//! `--extra-coins` synthetic ones whose identities ([`super::synthetic`]) and parameters derive
//! from the seed.

use super::info;
use super::platforms::{self, Platforms};
use super::synthetic::{self, Bridgeable, Kind, Synthetic};
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
/// How many coins are built in, before the synthetic ones (`--extra-coins`).
pub const BUILTIN_COINS: u32 = LISTED.len() as u32;

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

/// Built-in coins with bridged synthetic copies (a low-ranked `ETH` on Solana, ...), and the
/// chain each is native to, where it is never bridged.
const BRIDGEABLE: &[(&str, Option<&str>)] = &[
    ("ethereum", Some("ethereum")),
    ("bitcoin", None),
    ("tether", None),
    ("usd-coin", None),
    ("solana", Some("solana")),
    ("binancecoin", Some("binance-smart-chain")),
];

const EXTRA_PREFIX: &str = "sim-coin-";
/// Counters of the seed's streams reserved for synthetic coins' parameters (walks use small ones).
const ANCHOR: u64 = u64::MAX;
const SUPPLY: u64 = u64::MAX - 1;
const VOLUME: u64 = u64::MAX - 2;
/// Synthetic market caps: `10^(CAP_TOP - CAP_SPAN * u^CAP_SKEW)` USD for a uniform `u`, a
/// long tail like a real catalogue's (of 14,000 coins about 140 above $1B, 1,600 above $10M,
/// half below $100k), all below the biggest built-in coins.
const CAP_TOP: f64 = 10.5;
const CAP_SPAN: f64 = 7.5;
const CAP_SKEW: f64 = 0.35;
/// Supplies stay within this range (so a $10,000 coin is not a tenth of a unit), which moves
/// a few caps off the curve.
const MIN_SUPPLY: f64 = 1.0e4;
const MAX_SUPPLY: f64 = 1.0e15;
/// Bridged copies are worth `10^(4..6)` USD in all: bottom of the ranking.
const BRIDGED_CAP_LOG: (f64, f64) = (4.0, 2.0);

/// A coin's position in the catalogue; it names the coin's random stream.
pub(crate) type CoinIndex = u64;

#[derive(Debug)]
pub(crate) struct Catalogue {
    seed: u64,
    /// `synthetic[n]` is `sim-coin-{n + 1}`, at catalogue index `LISTED.len() + n`.
    synthetic: Vec<Synthetic>,
}

impl Catalogue {
    /// Generates the synthetic coins' names and tickers (a couple of microseconds each in a
    /// release build).
    pub(crate) fn new(extra_coins: u32, seed: u64) -> Self {
        let taken: Vec<&str> = LISTED
            .iter()
            .filter_map(|l| info::builtin_symbol_name(l.id).map(|(symbol, _)| symbol))
            .collect();
        let bridgeable: Vec<Bridgeable> = BRIDGEABLE
            .iter()
            .filter_map(|&(id, _)| {
                let index = LISTED.iter().position(|l| l.id == id)? as CoinIndex;
                let (symbol, name) = info::builtin_symbol_name(id)?;
                Some(Bridgeable {
                    index,
                    symbol,
                    name,
                })
            })
            .collect();
        let first = LISTED.len() as CoinIndex;
        Self {
            seed,
            synthetic: synthetic::roster(seed, first, extra_coins, &taken, &bridgeable),
        }
    }

    /// Ids are exact and case-sensitive, as on CoinGecko.
    pub(crate) fn index_of(&self, id: &str) -> Option<CoinIndex> {
        if let Some(i) = LISTED.iter().position(|c| c.id == id) {
            return Some(i as CoinIndex);
        }
        let digits = id.strip_prefix(EXTRA_PREFIX)?;
        let n: u32 = digits.parse().ok()?;
        // Only the canonical spelling: `sim-coin-1` is not `sim-coin-00001`.
        let canonical = (1..=self.synthetic.len() as u32).contains(&n) && extra_id(n) == id;
        canonical.then(|| (LISTED.len() as u64) + u64::from(n) - 1)
    }

    /// Built-in coins first, then synthetic ones.
    pub(crate) fn len(&self) -> u64 {
        (LISTED.len() + self.synthetic.len()) as u64
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

    /// The id of a built-in coin; `None` for a synthetic one.
    pub(crate) fn builtin_id(&self, index: CoinIndex) -> Option<&'static str> {
        LISTED.get(index as usize).map(|l| l.id)
    }

    /// Who a synthetic coin is; `None` for a built-in one.
    pub(crate) fn synthetic(&self, index: CoinIndex) -> Option<&Synthetic> {
        let n = usize::try_from(index).ok()?.checked_sub(LISTED.len())?;
        self.synthetic.get(n)
    }

    pub(crate) fn spec(&self, index: CoinIndex) -> CoinSpec {
        let seed = self.seed;
        let Some(synthetic) = self.synthetic(index) else {
            return LISTED
                .get(index as usize)
                .map_or(LISTED[0].spec, |l| l.spec);
        };
        let volume_ratio = 0.01 + 0.2 * rng::unit(seed, index, VOLUME);
        if let Kind::Bridged { builtin } = synthetic.kind {
            // Priced like the original, with a tiny supply.
            let original = LISTED[builtin as usize].spec;
            let (low, span) = BRIDGED_CAP_LOG;
            let cap = 10f64.powf(low + span * rng::unit(seed, index, SUPPLY));
            return CoinSpec {
                circulating_supply: cap / original.anchor_usd,
                volume_ratio,
                ..original
            };
        }
        // Log-uniform anchors from 1e-6 to 1e4 USD cover sub-cent coins and big ones.
        let anchor_usd = 10f64.powf(-6.0 + 10.0 * rng::unit(seed, index, ANCHOR));
        let u = rng::unit(seed, index, SUPPLY);
        let cap = 10f64.powf(CAP_TOP - CAP_SPAN * u.powf(CAP_SKEW));
        CoinSpec {
            anchor_usd,
            circulating_supply: (cap / anchor_usd).clamp(MIN_SUPPLY, MAX_SUPPLY),
            volume_ratio,
            stable: false,
        }
    }

    /// Where the coin lives as a token, if it is one.
    pub(crate) fn platforms(&self, index: CoinIndex) -> Platforms {
        match self.synthetic(index) {
            None => platforms::builtin(self.builtin_id(index).unwrap_or_default()),
            Some(synthetic) => {
                let home = match synthetic.kind {
                    Kind::Bridged { builtin } => {
                        let id = self.builtin_id(builtin).unwrap_or_default();
                        BRIDGEABLE
                            .iter()
                            .find(|(b, _)| *b == id)
                            .and_then(|(_, home)| *home)
                    }
                    _ => None,
                };
                platforms::synthetic(self.seed, index, synthetic.kind, home)
            }
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
        let catalogue = Catalogue::new(0, 1);
        assert_eq!(catalogue.index_of("tether"), Some(0));
        assert!(catalogue.index_of("avalanche-2").is_some());
        assert_eq!(catalogue.index_of("Bitcoin"), None);
        assert_eq!(catalogue.index_of("sim-coin-00001"), None);
    }

    #[test]
    fn extra_coins_exist_up_to_the_configured_count_in_canonical_spelling() {
        let catalogue = Catalogue::new(10_000, 1);
        let first = catalogue.index_of("sim-coin-00001");
        assert_eq!(first, Some(LISTED.len() as u64));
        assert!(catalogue.index_of(&extra_id(10_000)).is_some());
        assert_eq!(catalogue.index_of(&extra_id(10_001)), None);
        assert_eq!(catalogue.index_of("sim-coin-1"), None);
        assert_eq!(catalogue.index_of("sim-coin-00000"), None);
    }

    #[test]
    fn synthetic_market_caps_have_a_long_tail_below_the_big_coins() {
        let catalogue = Catalogue::new(14_000, 42);
        let caps: Vec<f64> = (catalogue.builtin_len()..catalogue.len())
            .map(|i| {
                let spec = catalogue.spec(i);
                spec.anchor_usd * spec.circulating_supply
            })
            .collect();
        let above = |usd: f64| caps.iter().filter(|&&c| c > usd).count();
        assert!((50..400).contains(&above(1e9)), "{} above $1B", above(1e9));
        assert!(
            (5_000..9_000).contains(&above(1e5)),
            "{} above $100k",
            above(1e5)
        );
        let bitcoin = catalogue.spec(2);
        assert_eq!(above(bitcoin.anchor_usd * bitcoin.circulating_supply), 0);
        let sub_cent = (catalogue.builtin_len()..catalogue.len())
            .filter(|&i| catalogue.spec(i).anchor_usd < 0.01)
            .count();
        assert!(sub_cent > 5_000, "{sub_cent} sub-cent coins");
    }

    #[test]
    fn bridged_copies_are_priced_like_their_original_and_tiny() {
        let catalogue = Catalogue::new(14_000, 42);
        let bridged: Vec<CoinIndex> = (catalogue.builtin_len()..catalogue.len())
            .filter(|&i| {
                matches!(
                    catalogue.synthetic(i).map(|s| s.kind),
                    Some(Kind::Bridged { .. })
                )
            })
            .collect();
        assert!(!bridged.is_empty());
        for index in bridged {
            let Some(Kind::Bridged { builtin }) = catalogue.synthetic(index).map(|s| s.kind) else {
                unreachable!()
            };
            let (copy, original) = (catalogue.spec(index), catalogue.spec(builtin));
            assert_eq!(copy.anchor_usd, original.anchor_usd);
            assert!(copy.anchor_usd * copy.circulating_supply <= 1e6);
            assert!(matches!(catalogue.platforms(index), Platforms::Tokens(_)));
        }
    }
}
