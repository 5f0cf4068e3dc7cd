//! Exact decimal arithmetic past `rust_decimal`'s 28 digits: a product or sum of prices,
//! amounts and rates keeps every digit (`BigDecimal`), and is written as a plain decimal
//! string, as `Decimal`s are. The portfolio's values and `?vs=`'s conversions use it.

use bigdecimal::{BigDecimal, num_bigint::BigInt};
use rust_decimal::Decimal;
use serde::Serializer;

/// `d` exactly, as a [`BigDecimal`] (same digits, same scale).
pub fn big(d: Decimal) -> BigDecimal {
    BigDecimal::new(BigInt::from(d.mantissa()), i64::from(d.scale()))
}

/// A [`BigDecimal`] in plain notation, as a JSON string (as `Decimal`s are written).
pub fn plain<S: Serializer>(d: &BigDecimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&d.to_plain_string())
}

/// [`plain`] of an optional value (`null` for none).
pub fn plain_opt<S: Serializer>(d: &Option<BigDecimal>, serializer: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => plain(d, serializer),
        None => serializer.serialize_none(),
    }
}
