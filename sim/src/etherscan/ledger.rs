//! Each address's deterministic ledger: normal transactions and ERC-20 transfers generated from
//! (seed, chain, address), with a native balance that is exactly what the ledger leaves. Every
//! chain uses the same token table and block numbering (a simplification).
//!
//! The address's last hex digit picks its profile, so tests and demos can choose one:
//! `…0` has no transactions at all, `…f` is busy (2,500 normal transactions and 300 token
//! transfers across USDC (6 decimals), WBTC (8), DAI (18) and LINK (18)), and every other digit
//! has a few (1..=30 normal, 0..=12 token transfers).
//!
//! Accounting: a normal transaction moves its value unless it failed (`isError` 1); the sender
//! pays `gasUsed * gasPrice` either way; so balance = in - out - fees, never negative along the
//! way. Token transfers move token units only: their gas is paid by whoever sent them and never
//! charged to the address's ETH (a simplification: on chain, an address's own token transfers
//! also appear in its `txlist`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::address::Address;
use super::tokens::{TOKENS, Token};
use crate::rng;
use crate::state::lock;

/// The chain head the ledgers end before; `confirmations` count from it. Fixed, so answers do
/// not drift with time.
pub(crate) const HEAD_BLOCK: u64 = 23_800_000;
/// When `HEAD_BLOCK` was mined, unix seconds; earlier blocks are 12 s apart.
pub(crate) const HEAD_TIMESTAMP: u64 = 1_763_300_000;
const BLOCK_SECS: u64 = 12;
/// How many ledgers stay generated; beyond it the cache starts over.
const CACHE_LIMIT: usize = 256;
/// Streams apart from any address's, for block hashes.
const BLOCK_HASH_STREAM: u64 = 0xB10C;
const TOKEN_STREAM_SALT: u64 = 0x7011E5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    Empty,
    Few,
    Busy,
}

impl Profile {
    pub(crate) fn of(address: &Address) -> Self {
        match address.last_digit() {
            b'0' => Self::Empty,
            b'f' => Self::Busy,
            _ => Self::Few,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Few => "few",
            Self::Busy => "busy",
        }
    }
}

/// What every row has: where and when it was mined and who sent it where.
#[derive(Debug, Clone)]
pub(crate) struct TxBase {
    pub(crate) block: u64,
    pub(crate) timestamp: u64,
    pub(crate) hash: String,
    pub(crate) nonce: u64,
    pub(crate) index: u64,
    pub(crate) from: Address,
    pub(crate) to: Address,
    pub(crate) gas: u64,
    pub(crate) gas_price: u64,
    pub(crate) gas_used: u64,
    pub(crate) cumulative_gas_used: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct NormalTx {
    pub(crate) base: TxBase,
    pub(crate) value_wei: u128,
    pub(crate) failed: bool,
    /// A contract call (`transfer(address,uint256)`) rather than a plain transfer.
    pub(crate) call: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenTransfer {
    pub(crate) base: TxBase,
    pub(crate) token: &'static Token,
    pub(crate) value_raw: u128,
}

#[derive(Debug)]
pub(crate) struct Ledger {
    pub(crate) chain: u64,
    pub(crate) address: Address,
    pub(crate) profile: Profile,
    /// Ascending by block.
    pub(crate) normal: Vec<NormalTx>,
    /// Ascending by block.
    pub(crate) tokens: Vec<TokenTransfer>,
    pub(crate) balance_wei: u128,
}

/// Consecutive draws from one stream.
struct Draws {
    seed: u64,
    stream: u64,
    counter: u64,
}

impl Draws {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        rng::bits(self.seed, self.stream, self.counter)
    }

    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.counter += 1;
        rng::unit(self.seed, self.stream, self.counter) < p
    }

    fn hash(&mut self) -> String {
        let parts = [self.next(), self.next(), self.next(), self.next()];
        format!(
            "0x{:016x}{:016x}{:016x}{:016x}",
            parts[0], parts[1], parts[2], parts[3]
        )
    }
}

pub(crate) fn block_hash(seed: u64, block: u64) -> String {
    let part = |k| rng::bits(seed, BLOCK_HASH_STREAM, block * 4 + k);
    format!(
        "0x{:016x}{:016x}{:016x}{:016x}",
        part(0),
        part(1),
        part(2),
        part(3)
    )
}

pub(crate) fn confirmations(block: u64) -> u64 {
    HEAD_BLOCK - block + 1
}

impl Ledger {
    pub(crate) fn generate(seed: u64, chain: u64, address: Address) -> Self {
        let profile = Profile::of(&address);
        // Chain 1 keeps the address's own stream; other chains get theirs.
        let stream = address.stream() ^ chain.wrapping_sub(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut draws = Draws {
            seed,
            stream,
            counter: 0,
        };
        let (normal_count, token_count, pool_size, tokens): (u64, u64, u64, &[Token]) =
            match profile {
                Profile::Empty => (0, 0, 1, &TOKENS[..0]),
                Profile::Busy => (2_500, 300, 120, &TOKENS[..4]),
                Profile::Few => {
                    let first = draws.range(0, TOKENS.len() as u64 - 1) as usize;
                    let last = (first + draws.range(1, 3) as usize).min(TOKENS.len());
                    (
                        draws.range(1, 30),
                        draws.range(0, 12),
                        draws.range(1, 8),
                        &TOKENS[first..last],
                    )
                }
            };
        let pool: Vec<Address> = (0..pool_size)
            .map(|k| Address::from_random(seed, stream, 1_000_000 + k * 3))
            .collect();
        let start_block = HEAD_BLOCK - 2_500_000 + draws.range(0, 200_000);
        let (normal, balance_wei) =
            normal_txs(&mut draws, &address, &pool, start_block, normal_count);
        let mut token_draws = Draws {
            seed,
            stream: stream ^ TOKEN_STREAM_SALT,
            counter: 0,
        };
        let transfers = token_transfers(
            &mut token_draws,
            &address,
            &pool,
            tokens,
            start_block,
            token_count,
        );
        Self {
            chain,
            address,
            profile,
            normal,
            tokens: transfers,
            balance_wei,
        }
    }
}

fn timestamp(block: u64) -> u64 {
    HEAD_TIMESTAMP - (HEAD_BLOCK - block) * BLOCK_SECS
}

/// Blocks from `start`, spread over about 2.2M blocks whatever the count.
fn next_block(draws: &mut Draws, block: u64, count: u64) -> u64 {
    let max_gap = (4_400_000 / (count + 1)).max(1);
    (block + draws.range(1, max_gap)).min(HEAD_BLOCK - 1)
}

fn base(
    draws: &mut Draws,
    block: u64,
    from: Address,
    to: Address,
    nonce: u64,
    gas: u64,
    gas_used: u64,
) -> TxBase {
    TxBase {
        block,
        timestamp: timestamp(block),
        hash: draws.hash(),
        nonce,
        index: draws.range(0, 250),
        from,
        to,
        gas,
        gas_price: draws.range(100_000_000, 60_000_000_000),
        gas_used,
        cumulative_gas_used: gas_used + draws.range(0, 25_000_000),
    }
}

fn normal_txs(
    draws: &mut Draws,
    us: &Address,
    pool: &[Address],
    start_block: u64,
    count: u64,
) -> (Vec<NormalTx>, u128) {
    let mut txs = Vec::with_capacity(count as usize);
    let mut balance: u128 = 0;
    let mut sent = 0;
    let mut block = start_block;
    for i in 0..count {
        block = next_block(draws, block, count);
        let counterparty = pool[draws.range(0, pool.len() as u64 - 1) as usize].clone();
        let wants_out = i > 0 && draws.chance(0.45);
        let call = wants_out && draws.chance(0.2);
        let (gas, gas_used) = if call {
            let gas = draws.range(60_000, 200_000);
            (gas, gas * draws.range(50, 95) / 100)
        } else {
            (21_000, 21_000)
        };
        let failed = draws.chance(0.03);
        let (from, to, nonce) = (us.clone(), counterparty.clone(), sent);
        let mut tx = NormalTx {
            base: base(draws, block, from, to, nonce, gas, gas_used),
            value_wei: 0,
            failed,
            call,
        };
        let fee = u128::from(tx.base.gas_used) * u128::from(tx.base.gas_price);
        if wants_out && balance > fee * 2 {
            sent += 1;
            if !call {
                tx.value_wei = (balance - fee) * u128::from(draws.range(5, 60)) / 100;
            }
            balance -= fee;
            if !failed {
                balance -= tx.value_wei;
            }
        } else {
            // Too poor to send (or the first transaction): it comes in instead.
            tx.call = false;
            tx.base.from = counterparty;
            tx.base.to = us.clone();
            tx.base.nonce = draws.range(0, 5_000);
            (tx.base.gas, tx.base.gas_used) = (21_000, 21_000);
            tx.value_wei =
                u128::from(draws.range(1_000_000_000_000_000, 5_000_000_000_000_000_000));
            if !failed {
                balance += tx.value_wei;
            }
        }
        txs.push(tx);
    }
    (txs, balance)
}

fn token_transfers(
    draws: &mut Draws,
    us: &Address,
    pool: &[Address],
    tokens: &'static [Token],
    start_block: u64,
    count: u64,
) -> Vec<TokenTransfer> {
    let mut transfers = Vec::with_capacity(count as usize);
    let mut balances = vec![0u128; tokens.len()];
    let mut block = start_block;
    for _ in 0..count {
        block = next_block(draws, block, count);
        let which = draws.range(0, tokens.len() as u64 - 1) as usize;
        let token = &tokens[which];
        let counterparty = pool[draws.range(0, pool.len() as u64 - 1) as usize].clone();
        let unit = 10u128.pow(token.decimals);
        let out = balances[which] > 0 && draws.chance(0.4);
        let value_raw = if out {
            balances[which] * u128::from(draws.range(5, 60)) / 100
        } else {
            u128::from(draws.range(1, 5_000)) * unit + u128::from(draws.next()) % unit
        };
        let (from, to) = if out {
            balances[which] -= value_raw;
            (us.clone(), counterparty)
        } else {
            balances[which] += value_raw;
            (counterparty, us.clone())
        };
        let gas = draws.range(60_000, 120_000);
        let gas_used = gas * draws.range(55, 90) / 100;
        let nonce = draws.range(0, 5_000);
        transfers.push(TokenTransfer {
            base: base(draws, block, from, to, nonce, gas, gas_used),
            token,
            value_raw,
        });
    }
    transfers
}

/// Generated ledgers, kept while the cache has room.
#[derive(Debug)]
pub(crate) struct Ledgers {
    seed: u64,
    cache: Mutex<HashMap<(u64, Address), Arc<Ledger>>>,
}

impl Ledgers {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            seed,
            cache: Mutex::default(),
        }
    }

    pub(crate) fn get(&self, chain: u64, address: &Address) -> Arc<Ledger> {
        let key = (chain, address.clone());
        if let Some(ledger) = lock(&self.cache).get(&key) {
            return Arc::clone(ledger);
        }
        // Generated outside the lock; a concurrent twin is identical.
        let ledger = Arc::new(Ledger::generate(self.seed, chain, address.clone()));
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&ledger));
        ledger
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: char) -> Address {
        Address::parse(&format!("0x{}{last}", "ab".repeat(19) + "c")).unwrap()
    }

    #[test]
    fn profiles_follow_the_last_digit_and_sizes_follow_profiles() {
        let empty = Ledger::generate(1, 1, address('0'));
        let busy = Ledger::generate(1, 1, address('f'));
        let few = Ledger::generate(1, 1, address('7'));
        assert_eq!((empty.normal.len(), empty.tokens.len()), (0, 0));
        assert_eq!((busy.normal.len(), busy.tokens.len()), (2_500, 300));
        assert!((1..=30).contains(&few.normal.len()));
        let decimals: std::collections::BTreeSet<u32> =
            busy.tokens.iter().map(|t| t.token.decimals).collect();
        assert_eq!(decimals, [6, 8, 18].into());
    }

    #[test]
    fn the_balance_is_what_the_ledger_leaves_and_blocks_ascend() {
        let busy = Ledger::generate(3, 1, address('f'));
        let us = busy.address.clone();
        let mut balance: i128 = 0;
        for tx in &busy.normal {
            let value = if tx.failed { 0 } else { tx.value_wei as i128 };
            if tx.base.to == us {
                balance += value;
            } else {
                balance -= value + (tx.base.gas_used as i128) * (tx.base.gas_price as i128);
            }
            assert!(balance >= 0);
        }
        assert_eq!(balance as u128, busy.balance_wei);
        assert!(
            busy.normal
                .windows(2)
                .all(|w| w[0].base.block < w[1].base.block)
        );
        assert!(busy.normal.last().unwrap().base.block < HEAD_BLOCK);
    }

    #[test]
    fn the_same_seed_and_address_give_the_same_ledger() {
        let a = Ledger::generate(5, 1, address('3'));
        let b = Ledger::generate(5, 1, address('3'));
        let c = Ledger::generate(6, 1, address('3'));
        assert_eq!(a.balance_wei, b.balance_wei);
        assert_eq!(a.normal[0].base.hash, b.normal[0].base.hash);
        assert_ne!(a.normal[0].base.hash, c.normal[0].base.hash);
        let base = Ledger::generate(5, 8453, address('3'));
        assert_ne!(a.normal[0].base.hash, base.normal[0].base.hash);
    }
}
