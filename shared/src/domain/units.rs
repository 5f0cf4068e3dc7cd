//! An exact non-negative integer of any size, read from and written as decimal digits: wei
//! amounts and raw ERC-20 amounts. An ERC-20 `value` is a uint256 (up to 78 digits), more than
//! `u128` or `Decimal` hold, and sums of them grow further; floats would lose digits. The few
//! operations wallet analysis needs (add, subtract, compare, scale by a small factor, print with
//! decimals) are simple on base-10⁹ limbs, so no big-integer dependency is pulled in for them.

use std::{cmp::Ordering, fmt};

/// Limb base: each limb holds nine decimal digits, so printing never divides.
const BASE: u64 = 1_000_000_000;

/// Longest accepted input, in digits (a uint256 has at most 78).
pub const MAX_UNITS_DIGITS: usize = 100;

/// A non-negative integer; limbs little-endian in base 10⁹, no high zero limbs (zero is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Units(Vec<u32>);

/// Why a string is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitsError {
    #[error("amount is empty")]
    Empty,
    #[error("amount {0:?} is not a string of decimal digits")]
    NotDigits(String),
    #[error("amount {0:?} has more than {MAX_UNITS_DIGITS} digits")]
    TooLong(String),
}

impl Units {
    pub fn zero() -> Self {
        Self(Vec::new())
    }

    /// Parses decimal digits (leading zeros allowed, no sign, no point).
    pub fn parse(input: &str) -> Result<Self, UnitsError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(UnitsError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UnitsError::NotDigits(s.to_owned()));
        }
        let s = s.trim_start_matches('0');
        if s.len() > MAX_UNITS_DIGITS {
            return Err(UnitsError::TooLong(input.trim().to_owned()));
        }
        let bytes = s.as_bytes();
        let mut limbs = Vec::with_capacity(bytes.len() / 9 + 1);
        let mut end = bytes.len();
        while end > 0 {
            let start = end.saturating_sub(9);
            let chunk = std::str::from_utf8(&bytes[start..end]).expect("ascii digits");
            limbs.push(chunk.parse::<u32>().expect("at most nine digits"));
            end = start;
        }
        Ok(Self::normalized(limbs))
    }

    pub fn from_u128(mut n: u128) -> Self {
        let mut limbs = Vec::new();
        while n > 0 {
            limbs.push((n % BASE as u128) as u32);
            n /= BASE as u128;
        }
        Self(limbs)
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn normalized(mut limbs: Vec<u32>) -> Self {
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        Self(limbs)
    }

    /// `self + other`.
    pub fn add(&self, other: &Units) -> Units {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let sum = carry
                + u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0));
            out.push((sum % BASE) as u32);
            carry = sum / BASE;
        }
        if carry > 0 {
            out.push(carry as u32);
        }
        Self::normalized(out)
    }

    /// `self - other`, or `None` when `other` is larger.
    pub fn checked_sub(&self, other: &Units) -> Option<Units> {
        if *self < *other {
            return None;
        }
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut d =
                i64::from(self.0[i]) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if d < 0 {
                d += BASE as i64;
                borrow = 1;
            }
            out.push(d as u32);
        }
        Some(Self::normalized(out))
    }

    /// `self × factor`.
    pub fn mul_small(&self, factor: u32) -> Units {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut carry = 0u64;
        for limb in &self.0 {
            let p = u64::from(*limb) * u64::from(factor) + carry;
            out.push((p % BASE) as u32);
            carry = p / BASE;
        }
        while carry > 0 {
            out.push((carry % BASE) as u32);
            carry /= BASE;
        }
        Self::normalized(out)
    }

    /// The exact value divided by 10^`decimals`, without trailing fractional zeros:
    /// `1500000000000000000` with 18 decimals is `"1.5"`, zero is `"0"`.
    pub fn to_decimal_string(&self, decimals: u32) -> String {
        let digits = self.to_string();
        let decimals = decimals as usize;
        if decimals == 0 {
            return digits;
        }
        let (int, frac) = if digits.len() > decimals {
            let (i, f) = digits.split_at(digits.len() - decimals);
            (i.to_owned(), f.to_owned())
        } else {
            ("0".to_owned(), format!("{digits:0>decimals$}"))
        };
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int
        } else {
            format!("{int}.{frac}")
        }
    }
}

impl Ord for Units {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

impl PartialOrd for Units {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Units {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((top, rest)) = self.0.split_last() else {
            return f.write_str("0");
        };
        write!(f, "{top}")?;
        for limb in rest.iter().rev() {
            write!(f, "{limb:09}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Units {
    type Err = UnitsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Units {
        Units::parse(s).unwrap()
    }

    #[test]
    fn uint256_max_round_trips_and_sums_past_it_stay_exact() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(u(max).to_string(), max);
        assert_eq!(
            u(max).add(&u("1")).to_string(),
            "115792089237316195423570985008687907853269984665640564039457584007913129639936"
        );
        assert_eq!(u(max).add(&u(max)).checked_sub(&u(max)), Some(u(max)));
        assert_eq!(u("000"), Units::zero());
        assert_eq!(u("0012").to_string(), "12");
        assert_eq!(
            Units::from_u128(u128::MAX).to_string(),
            u128::MAX.to_string()
        );
    }

    #[test]
    fn subtraction_borrows_across_limbs_and_refuses_to_go_negative() {
        assert_eq!(
            u("1000000000").checked_sub(&u("1")).unwrap().to_string(),
            "999999999"
        );
        assert_eq!(
            u("1000000000000000000").checked_sub(&u("999999999999999999")),
            Some(u("1"))
        );
        assert_eq!(u("5").checked_sub(&u("6")), None);
        assert_eq!(u("7").checked_sub(&u("7")), Some(Units::zero()));
        assert!(u("1000000000") > u("999999999"));
        assert!(u("2000000001") > u("2000000000"));
        assert_eq!(u("999999999").mul_small(100).to_string(), "99999999900");
    }

    #[test]
    fn decimals_are_applied_exactly() {
        assert_eq!(u("1500000000000000000").to_decimal_string(18), "1.5");
        assert_eq!(
            u("172774397764084972158218").to_decimal_string(18),
            "172774.397764084972158218"
        );
        assert_eq!(u("1").to_decimal_string(18), "0.000000000000000001");
        assert_eq!(u("0").to_decimal_string(18), "0");
        assert_eq!(u("1000000").to_decimal_string(6), "1");
        assert_eq!(u("123").to_decimal_string(0), "123");
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(Units::parse(""), Err(UnitsError::Empty));
        assert!(matches!(Units::parse("-1"), Err(UnitsError::NotDigits(_))));
        assert!(matches!(Units::parse("1.5"), Err(UnitsError::NotDigits(_))));
        assert!(matches!(
            Units::parse("1e18"),
            Err(UnitsError::NotDigits(_))
        ));
        assert!(matches!(
            Units::parse(&"9".repeat(101)),
            Err(UnitsError::TooLong(_))
        ));
    }
}
