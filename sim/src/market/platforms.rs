//! Where a coin lives as a token: its contract address on each chain, keyed by CoinGecko's
//! asset-platform ids (`ethereum`, `binance-smart-chain`, `solana`, ...). Built-in tokens carry
//! their real contracts (USDT's `0xdac17f…`, BONK's `DezXAZ8z…`); a chain's own coin (BTC, ETH,
//! SOL) has none. Synthetic coins draw theirs from the seed: about 85% are tokens, mostly on
//! Ethereum, BNB Smart Chain and Solana, some on two chains; the rest are native coins, a few of
//! them written `{"": ""}` the way CoinGecko writes some natives in `/coins/list`.

use super::catalogue::CoinIndex;
use super::synthetic::Kind;
use crate::rng;

/// One token contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contract {
    /// CoinGecko's asset-platform id.
    pub(crate) chain: &'static str,
    /// EVM chains: `0x` and 40 lower-case hex digits; Solana: base58 (43 or 44 characters);
    /// Tron: `T` and 33 base58 characters.
    pub(crate) address: String,
    pub(crate) decimals: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Platforms {
    /// A chain's own coin: `/coins/list` writes `{}`.
    Native,
    /// A chain's own coin that `/coins/list` writes `{"": ""}`, as CoinGecko does for some.
    NativeBlank,
    /// A token; the first contract is its home chain (`/coins/{id}`'s `asset_platform_id`).
    Tokens(Vec<Contract>),
}

impl Platforms {
    /// `/coins/list`'s `platforms` object as (chain, address) pairs, in order.
    pub(crate) fn listed(&self) -> Vec<(&str, &str)> {
        match self {
            Self::Native => Vec::new(),
            Self::NativeBlank => vec![("", "")],
            Self::Tokens(contracts) => contracts
                .iter()
                .map(|c| (c.chain, c.address.as_str()))
                .collect(),
        }
    }
}

const EVM_CHAINS: &[&str] = &[
    "ethereum",
    "binance-smart-chain",
    "base",
    "arbitrum-one",
    "polygon-pos",
    "optimistic-ethereum",
];
/// Where synthetic tokens live, with cumulative weights.
const TOKEN_CHAINS: &[(&str, f64)] = &[
    ("ethereum", 0.45),
    ("binance-smart-chain", 0.65),
    ("solana", 0.85),
    ("base", 0.91),
    ("arbitrum-one", 0.96),
    ("polygon-pos", 1.0),
];
/// Chains bridged copies of built-in coins live on.
const BRIDGE_CHAINS: &[&str] = &["ethereum", "binance-smart-chain", "solana", "arbitrum-one"];
const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// Shares of synthetic coins that are native (`{}`), then native written `{"": ""}`.
const NATIVE: f64 = 0.12;
const NATIVE_BLANK: f64 = 0.15;
const TWO_CHAINS: f64 = 0.15;
/// Counters of a coin's stream used here: `BASE - 64 * slot - i`.
const BASE: u64 = u64::MAX - 20_000;

/// A contract as written in [`BUILTIN`]: (chain, address, decimals).
type Written = (&'static str, &'static str, u8);

/// (CoinGecko id, contracts) of the built-in tokens; every other built-in coin is native.
#[rustfmt::skip]
const BUILTIN: &[(&str, &[Written])] = &[
    ("tether", &[
        ("ethereum", "0xdac17f958d2ee523a2206206994597c13d831ec7", 6),
        ("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", 6),
        ("binance-smart-chain", "0x55d398326f99059ff775485246999027b3197955", 18),
        ("solana", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", 6),
    ]),
    ("usd-coin", &[
        ("ethereum", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", 6),
        ("solana", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6),
        ("base", "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913", 6),
        ("binance-smart-chain", "0x8ac76a51cc950d9822d68b83fe1ad97b32cd580d", 18),
    ]),
    ("worldcoin-wld", &[
        ("ethereum", "0x163f8c2467924be0ae7b5347228cabf260318753", 18),
        ("optimistic-ethereum", "0xdc6ff44d5d932cbd77b52e5612ba0529dc6226f1", 18),
    ]),
    ("polygon-ecosystem-token", &[
        ("ethereum", "0x455e53cbb86018ac2b8092fdcd39d8444affc3f6", 18),
    ]),
    ("optimism", &[
        ("optimistic-ethereum", "0x4200000000000000000000000000000000000042", 18),
    ]),
    ("shiba-inu", &[
        ("ethereum", "0x95ad61b0a150d79219dcf64e1e6cc01f0b64c4ce", 18),
    ]),
    ("pepe", &[
        ("ethereum", "0x6982508145454ce325ddbb47a25d4ec3d2311933", 18),
    ]),
    ("bonk", &[
        ("solana", "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263", 5),
    ]),
];

/// The built-in coin `id`'s platforms.
pub(super) fn builtin(id: &str) -> Platforms {
    match BUILTIN.iter().find(|(coin, _)| *coin == id) {
        Some((_, contracts)) => Platforms::Tokens(
            contracts
                .iter()
                .map(|&(chain, address, decimals)| Contract {
                    chain,
                    address: address.to_owned(),
                    decimals,
                })
                .collect(),
        ),
        None => Platforms::Native,
    }
}

/// A synthetic coin's platforms, drawn from its stream. `home` is the chain a bridged copy's
/// original lives on (it is bridged elsewhere).
pub(super) fn synthetic(seed: u64, index: CoinIndex, kind: Kind, home: Option<&str>) -> Platforms {
    let draw = |slot: u64, i: u64| rng::bits(seed, index, BASE - 64 * slot - i);
    let unit = |slot: u64| (draw(slot, 0) >> 11) as f64 / (1u64 << 53) as f64;
    if let Kind::Bridged { .. } = kind {
        let chains: Vec<&str> = BRIDGE_CHAINS
            .iter()
            .copied()
            .filter(|c| Some(*c) != home)
            .collect();
        let chain = chains[(draw(1, 0) % chains.len() as u64) as usize];
        return Platforms::Tokens(vec![contract(chain, |i| draw(3, i))]);
    }
    let shape = unit(0);
    if shape < NATIVE {
        return Platforms::Native;
    }
    if shape < NATIVE_BLANK {
        return Platforms::NativeBlank;
    }
    let chain_at = |u: f64| {
        TOKEN_CHAINS
            .iter()
            .find(|(_, upto)| u < *upto)
            .map_or("ethereum", |(chain, _)| chain)
    };
    let first = chain_at(unit(1));
    let mut contracts = vec![contract(first, |i| draw(3, i))];
    let second = chain_at(unit(2));
    if second != first && unit(4) < TWO_CHAINS {
        contracts.push(contract(second, |i| draw(5, i)));
    }
    Platforms::Tokens(contracts)
}

/// A contract address in the chain's format, from 64-bit draws `bits(0..)`.
fn contract(chain: &'static str, bits: impl Fn(u64) -> u64) -> Contract {
    if EVM_CHAINS.contains(&chain) {
        let hex = format!("{:016x}{:016x}{:08x}", bits(0), bits(1), bits(2) >> 32);
        Contract {
            chain,
            address: format!("0x{hex}"),
            decimals: 18,
        }
    } else {
        // A 32-byte key is 43 or 44 base58 characters; the first is never `1` (a zero byte).
        let len = 43 + bits(0) % 2;
        let address = (1..=len)
            .map(|i| {
                let from = if i == 1 { &BASE58[1..] } else { BASE58 };
                char::from(from[(bits(i) % from.len() as u64) as usize])
            })
            .collect();
        Contract {
            chain,
            address,
            decimals: if bits(50).is_multiple_of(2) { 6 } else { 9 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_evm(address: &str) -> bool {
        address.len() == 42
            && address.starts_with("0x")
            && address[2..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    }

    #[test]
    fn built_in_tokens_have_real_contracts_and_native_coins_none() {
        let Platforms::Tokens(usdt) = builtin("tether") else {
            panic!("tether is a token");
        };
        assert_eq!(usdt[0].chain, "ethereum");
        assert_eq!(usdt[0].decimals, 6);
        assert!(
            usdt.iter()
                .filter(|c| c.chain != "tron" && c.chain != "solana")
                .all(|c| is_evm(&c.address))
        );
        assert_eq!(builtin("bitcoin"), Platforms::Native);
        assert_eq!(
            builtin("bonk").listed(),
            [("solana", "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263")]
        );
        for (_, contracts) in BUILTIN {
            for (chain, address, _) in *contracts {
                let ok = match *chain {
                    "solana" => (32..=44).contains(&address.len()),
                    "tron" => address.len() == 34 && address.starts_with('T'),
                    _ => is_evm(address),
                };
                assert!(ok, "{chain}: {address}");
            }
        }
    }

    #[test]
    fn synthetic_coins_are_mostly_tokens_with_well_formed_addresses() {
        let (mut native, mut blank, mut tokens, mut two) = (0, 0, 0, 0);
        for index in 15..10_015 {
            match synthetic(42, index, Kind::Original, None) {
                Platforms::Native => native += 1,
                Platforms::NativeBlank => blank += 1,
                Platforms::Tokens(contracts) => {
                    tokens += 1;
                    two += usize::from(contracts.len() == 2);
                    for c in contracts {
                        let ok = if c.chain == "solana" {
                            (43..=44).contains(&c.address.len())
                                && c.address.bytes().all(|b| BASE58.contains(&b))
                        } else {
                            is_evm(&c.address)
                        };
                        assert!(ok, "{}: {}", c.chain, c.address);
                    }
                }
            }
        }
        assert!((1_000..1_400).contains(&native), "{native}");
        assert!((200..400).contains(&blank), "{blank}");
        assert!(
            tokens > 8_000 && two > 500,
            "{tokens} tokens, {two} on two chains"
        );
        assert_eq!(
            synthetic(42, 99, Kind::Original, None),
            synthetic(42, 99, Kind::Original, None)
        );
    }

    #[test]
    fn a_bridged_copy_lives_away_from_its_home_chain() {
        for index in 15..200 {
            let bridged = synthetic(1, index, Kind::Bridged { builtin: 5 }, Some("ethereum"));
            let Platforms::Tokens(contracts) = bridged else {
                panic!("a bridged copy is a token");
            };
            assert_eq!(contracts.len(), 1);
            assert_ne!(contracts[0].chain, "ethereum");
        }
    }
}
