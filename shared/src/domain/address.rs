//! An EVM account address (`0x` + 40 hex digits), stored lowercase; mixed-case input must
//! carry a valid EIP-55 checksum.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize};
use tiny_keccak::{Hasher, Keccak};

/// A 20-byte EVM address in lowercase hex with its `0x` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Address(String);

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address {0:?} must start with 0x")]
    MissingPrefix(String),
    #[error("address {0:?} must have exactly 40 hex digits after 0x")]
    BadLength(String),
    #[error("address {0:?} contains a character that is not a hex digit")]
    NotHex(String),
    /// Mixed case means "this is EIP-55 checksummed", and the checksum does not match: most
    /// likely a typo. All-lowercase or all-uppercase input is accepted without a checksum.
    #[error(
        "address {given:?} is mixed-case but fails its EIP-55 checksum (expected {expected}); \
         check it for a typo, or send it all-lowercase"
    )]
    BadChecksum { given: String, expected: String },
}

impl Address {
    /// Parses `0x` + 40 hex digits. All-lowercase or all-uppercase digits are accepted as they
    /// are; mixed case must be the EIP-55 checksummed form (as ethers' `getAddress` demands).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let s = input.trim();
        let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) else {
            return Err(AddressError::MissingPrefix(s.to_owned()));
        };
        if hex.len() != 40 {
            return Err(AddressError::BadLength(s.to_owned()));
        }
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AddressError::NotHex(s.to_owned()));
        }
        let address = Self(format!("0x{}", hex.to_ascii_lowercase()));
        let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
        let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
        if has_upper && has_lower {
            let expected = address.checksummed();
            if expected[2..] != *hex {
                return Err(AddressError::BadChecksum {
                    given: s.to_owned(),
                    expected,
                });
            }
        }
        Ok(address)
    }

    /// The lowercase form, `0x` included: what Etherscan returns and what keys are built from.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The EIP-55 mixed-case form: keccak-256 of the lowercase hex digits (ASCII, no `0x`);
    /// each letter is uppercased where the hash's nibble at its index is 8 or more.
    pub fn checksummed(&self) -> String {
        let hex = &self.0[2..];
        let mut hash = [0u8; 32];
        let mut keccak = Keccak::v256();
        keccak.update(hex.as_bytes());
        keccak.finalize(&mut hash);
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in hex.chars().enumerate() {
            let nibble = if i % 2 == 0 {
                hash[i / 2] >> 4
            } else {
                hash[i / 2] & 0x0f
            };
            out.push(if nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        out
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors of EIP-55 itself.
    const EIP55_VECTORS: [&str; 4] = [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];

    #[test]
    fn checksummed_addresses_parse_and_print_back_exactly() {
        for vector in EIP55_VECTORS {
            let a = Address::parse(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
            assert_eq!(a.as_str(), vector.to_ascii_lowercase());
            assert_eq!(a.checksummed(), vector);
        }
    }

    #[test]
    fn all_lowercase_and_all_uppercase_need_no_checksum() {
        for vector in EIP55_VECTORS {
            let lower = Address::parse(&vector.to_ascii_lowercase()).unwrap();
            let upper = Address::parse(&format!("0x{}", vector[2..].to_ascii_uppercase())).unwrap();
            assert_eq!(lower, upper);
            assert_eq!(lower.checksummed(), vector);
        }
        let a = Address::parse("0xDE0B295669A9FD93D5F28D9EC85E40F4CB697BAE").unwrap();
        assert_eq!(a.as_str(), "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae");
    }

    #[test]
    fn mixed_case_with_a_wrong_checksum_is_rejected_with_the_expected_form() {
        // The first vector with one letter's case flipped.
        let err = Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").unwrap_err();
        assert_eq!(
            err,
            AddressError::BadChecksum {
                given: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD".into(),
                expected: EIP55_VECTORS[0].into(),
            }
        );
        assert!(err.to_string().contains("EIP-55"), "{err}");
        assert!(
            serde_json::from_str::<Address>("\"0xDE0B295669a9FD93d5F28D9Ec85E40f4cb697BAe\"")
                .is_err()
        );
    }

    #[test]
    fn parse_rejects_wrong_prefix_length_and_digits() {
        assert!(matches!(
            Address::parse("de0b295669a9fd93d5f28d9ec85e40f4cb697bae"),
            Err(AddressError::MissingPrefix(_))
        ));
        assert!(matches!(
            Address::parse("0x1234"),
            Err(AddressError::BadLength(_))
        ));
        assert!(matches!(
            Address::parse("0xzz0b295669a9fd93d5f28d9ec85e40f4cb697bae"),
            Err(AddressError::NotHex(_))
        ));
    }
}
