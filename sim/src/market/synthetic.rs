//! Who the synthetic coins are: a name, a ticker, and whether the ticker is their own. Real
//! catalogues are full of shared tickers: copycats of a popular coin, and tokens bridged from
//! another chain that keep the original's ticker (a dozen coins called `ETH`). So here:
//!
//! - about 97% are **originals** with a generated name and a ticker cut from it that no earlier
//!   coin holds (when the natural cut is taken, a longer cut or a digit is tried, as projects do);
//! - about 2.5% are **copycats** of an earlier synthetic coin: its ticker and its name with a
//!   suffix (`Zorbix Classic`);
//! - about 0.1% are **bridged** copies of a major built-in coin (`Ethereum (Zorbix)`, ticker
//!   `ETH`): priced like it, but with a tiny supply, so they rank low.
//!
//! Coin `n` depends only on the seed and the coins before it, so `sim-coin-00042` is the same
//! coin whether the sim has 100 or 100,000 synthetic coins. Binance's one-pair-per-ticker rule
//! follows from it: only originals get a pair (see [`super::info::CoinInfo::on_binance`]).

use std::collections::HashSet;

use super::catalogue::CoinIndex;
use super::names::{self, Draws};
use crate::rng;

/// How one synthetic coin came by its ticker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Its ticker was free when it was listed: no built-in and no earlier synthetic coin has it.
    Original,
    /// It took the ticker of the synthetic coin at this 0-based position, which came before it.
    Copycat { of: u32 },
    /// A bridged copy of the built-in coin at this catalogue index, under that coin's ticker.
    Bridged { builtin: CoinIndex },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Synthetic {
    pub(crate) name: String,
    /// Upper case letters and digits, two to six of them.
    pub(crate) symbol: String,
    pub(crate) kind: Kind,
}

/// A built-in coin a synthetic one may be a bridged copy of: its catalogue index, ticker, name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bridgeable {
    pub(super) index: CoinIndex,
    pub(super) symbol: &'static str,
    pub(super) name: &'static str,
}

const P_COPYCAT: f64 = 0.025;
const P_BRIDGED: f64 = 0.001;
/// Counters of each coin's stream (its catalogue index) used here. The catalogue's own draws
/// use `u64::MAX - 2 ..= u64::MAX`, the walks small counters.
const KIND: u64 = u64::MAX - 3;
const PICK: u64 = u64::MAX - 4;
const SUFFIX: u64 = u64::MAX - 5;
const NAME_BASE: u64 = u64::MAX - 1_000;
/// Random tickers tried before giving up on uniqueness (never reached in practice: the space of
/// four to six letters is vast).
const RANDOM_ATTEMPTS: u64 = 1_000;

/// The first `count` synthetic coins; the `n`th (0-based) sits at catalogue index
/// `first_index + n`. `taken` are the built-in tickers; `bridgeable` the built-in coins that
/// have bridged copies.
pub(super) fn roster(
    seed: u64,
    first_index: CoinIndex,
    count: u32,
    taken: &[&str],
    bridgeable: &[Bridgeable],
) -> Vec<Synthetic> {
    let mut taken: HashSet<String> = taken.iter().map(|s| (*s).to_owned()).collect();
    let mut coins: Vec<Synthetic> = Vec::with_capacity(count as usize);
    for n in 0..count {
        let stream = first_index + u64::from(n);
        let draws = Draws {
            seed,
            stream,
            base: NAME_BASE,
        };
        let name = names::name(draws);
        let kind_draw = rng::unit(seed, stream, KIND);
        let pick = rng::unit(seed, stream, PICK);
        let coin = if kind_draw < P_BRIDGED && !bridgeable.is_empty() {
            let b = bridgeable[(pick * bridgeable.len() as f64) as usize % bridgeable.len()];
            Synthetic {
                name: format!("{} ({})", b.name, first_word(&name)),
                symbol: b.symbol.to_owned(),
                kind: Kind::Bridged { builtin: b.index },
            }
        } else if kind_draw < P_BRIDGED + P_COPYCAT && n > 0 {
            let of = ((pick * f64::from(n)) as u32).min(n - 1);
            let original = &coins[of as usize];
            let base = first_word(&original.name);
            let suffixes: Vec<&str> = names::COPYCAT_SUFFIXES
                .iter()
                .copied()
                .filter(|s| !original.name.ends_with(s))
                .collect();
            let draw = rng::unit(seed, stream, SUFFIX);
            let suffix = suffixes[(draw * suffixes.len() as f64) as usize % suffixes.len()];
            Synthetic {
                name: format!("{base} {suffix}"),
                symbol: original.symbol.clone(),
                kind: Kind::Copycat { of },
            }
        } else {
            let symbol = free_ticker(&name, draws, &taken);
            taken.insert(symbol.clone());
            Synthetic {
                name,
                symbol,
                kind: Kind::Original,
            }
        };
        coins.push(coin);
    }
    coins
}

/// The name's ticker, or the first alternative no coin holds yet.
fn free_ticker(name: &str, draws: Draws, taken: &HashSet<String>) -> String {
    let first = names::ticker(name, draws);
    if !taken.contains(&first) {
        return first;
    }
    names::alternatives(name)
        .into_iter()
        .chain((0..RANDOM_ATTEMPTS).map(|attempt| names::random_ticker(draws, attempt)))
        .find(|t| !taken.contains(t))
        .unwrap_or_else(|| names::random_ticker(draws, RANDOM_ATTEMPTS))
}

/// The made-up word of a name (`Baby Drimo` → `Drimo`).
fn first_word(name: &str) -> &str {
    name.split(' ').find(|w| *w != "Baby").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const BRIDGEABLE: [Bridgeable; 2] = [
        Bridgeable {
            index: 5,
            symbol: "ETH",
            name: "Ethereum",
        },
        Bridgeable {
            index: 2,
            symbol: "BTC",
            name: "Bitcoin",
        },
    ];

    fn fourteen_thousand() -> Vec<Synthetic> {
        roster(42, 15, 14_000, &["ETH", "BTC", "USDT"], &BRIDGEABLE)
    }

    #[test]
    fn a_few_percent_share_a_ticker_and_originals_never_do() {
        let coins = fourteen_thousand();
        let mut holders: HashMap<&str, Vec<&Synthetic>> = HashMap::new();
        for coin in &coins {
            holders.entry(&coin.symbol).or_default().push(coin);
        }
        let sharing = coins
            .iter()
            .filter(|c| {
                holders[c.symbol.as_str()].len() > 1 || matches!(c.kind, Kind::Bridged { .. })
            })
            .count();
        let share = sharing as f64 / coins.len() as f64;
        assert!((0.02..0.08).contains(&share), "{sharing} share a ticker");
        for (symbol, coins) in &holders {
            let originals = coins.iter().filter(|c| c.kind == Kind::Original).count();
            let bridged = coins.iter().any(|c| matches!(c.kind, Kind::Bridged { .. }));
            assert_eq!(originals, usize::from(!bridged), "{symbol}: {coins:?}");
        }
        let bridged: Vec<&Synthetic> = coins
            .iter()
            .filter(|c| matches!(c.kind, Kind::Bridged { .. }))
            .collect();
        assert!((3..=40).contains(&bridged.len()), "{bridged:?}");
        assert!(
            bridged
                .iter()
                .all(|c| ["ETH", "BTC"].contains(&c.symbol.as_str()) && c.name.contains(" (")),
            "{bridged:?}"
        );
        assert!(coins.iter().all(|c| c.symbol != "USDT"));
    }

    #[test]
    fn copycats_copy_an_earlier_coin() {
        let coins = fourteen_thousand();
        let mut copycats = 0;
        for (n, coin) in coins.iter().enumerate() {
            if let Kind::Copycat { of } = coin.kind {
                assert!((of as usize) < n);
                assert_eq!(coin.symbol, coins[of as usize].symbol);
                copycats += 1;
            }
        }
        assert!(copycats > 200, "{copycats} copycats");
    }

    #[test]
    fn a_coin_is_the_same_in_a_small_and_a_large_roster() {
        let small = roster(42, 15, 300, &["ETH", "BTC", "USDT"], &BRIDGEABLE);
        let large = fourteen_thousand();
        assert_eq!(small[..], large[..300]);
        assert_ne!(roster(43, 15, 300, &[], &BRIDGEABLE), small);
    }
}
