//! An Ethereum address as Etherscan answers it: `0x` and 40 lowercase hex digits.

use std::fmt;

use crate::rng;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Address(String);

impl Address {
    /// Accepts any letter case (Etherscan does not check EIP-55 checksums); `None` unless `0x` and
    /// 40 hex digits.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let hex = raw
            .trim()
            .strip_prefix("0x")
            .or(raw.trim().strip_prefix("0X"))?;
        (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(format!("0x{}", hex.to_ascii_lowercase())))
    }

    /// A made-up address from random bits (counterparties).
    pub(crate) fn from_random(seed: u64, stream: u64, counter: u64) -> Self {
        let a = rng::bits(seed, stream, counter);
        let b = rng::bits(seed, stream, counter + 1);
        let c = rng::bits(seed, stream, counter + 2) as u32;
        Self(format!("0x{a:016x}{b:016x}{c:08x}"))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The last hex digit, which picks the ledger's profile.
    pub(crate) fn last_digit(&self) -> u8 {
        self.0.as_bytes()[self.0.len() - 1]
    }

    /// The address's own random stream.
    pub(crate) fn stream(&self) -> u64 {
        rng::stream_of(self.0.as_bytes())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lowercased_and_malformed_ones_refused() {
        let mixed = Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap();
        assert_eq!(mixed.as_str(), "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
        assert!(Address::parse("0x123").is_none());
        assert!(Address::parse("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").is_none());
        assert!(Address::parse("0xzzaeb6053f3e94c9b9a09f33669435e7ef1beaed").is_none());
        assert_eq!(Address::from_random(1, 2, 3).as_str().len(), 42);
    }
}
