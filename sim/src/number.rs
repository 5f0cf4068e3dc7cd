//! Number text written digit by digit: plain decimal notation (never an exponent), so a sub-cent
//! price reads `0.0000220134` and keeps its significant digits.

/// CoinGecko's `precision` parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Precision {
    /// No parameter: prices get a few significant digits, other values full precision.
    Default,
    /// `precision=full`.
    Full,
    /// `precision=0..=18`: that many decimal places.
    Places(usize),
}

/// Significant digits of a default price (CoinGecko answers e.g. `3340.63`, `0.240394`).
const DEFAULT_PRICE_DIGITS: usize = 6;
/// Significant digits at full precision (CoinGecko answers e.g. `67187.3358936566`).
const FULL_DIGITS: usize = 15;

impl Precision {
    /// Anything but `full` or `0..=18` is ignored, as a lenient server would.
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        match raw.map(str::trim) {
            Some("full") => Self::Full,
            Some(n) => match n.parse::<usize>() {
                Ok(places) if places <= 18 => Self::Places(places),
                _ => Self::Default,
            },
            None => Self::Default,
        }
    }

    pub(crate) fn price(self, x: f64) -> String {
        match self {
            Self::Default => significant(x, DEFAULT_PRICE_DIGITS),
            Self::Full => significant(x, FULL_DIGITS),
            Self::Places(places) => fixed(x, places),
        }
    }

    /// Market caps, volumes and changes.
    pub(crate) fn amount(self, x: f64) -> String {
        match self {
            Self::Default | Self::Full => significant(x, FULL_DIGITS),
            Self::Places(places) => fixed(x, places),
        }
    }
}

/// `x` rounded to `digits` significant digits, trailing zeros dropped.
pub(crate) fn significant(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".to_owned();
    }
    let magnitude = x.abs().log10().floor() as i64;
    let places = (digits as i64 - 1 - magnitude).max(0) as usize;
    fixed(x, places)
}

/// `x` with 15 significant digits, in exponent notation from 1e15 up as CoinGecko's `/global`
/// writes huge values (`2.70016521312815e+15`), plain below.
pub(crate) fn huge(x: f64) -> String {
    if !x.is_finite() || x.abs() < 1e15 {
        return significant(x, FULL_DIGITS);
    }
    let exponent = x.abs().log10().floor() as i32;
    let mantissa = fixed(x / 10f64.powi(exponent), FULL_DIGITS - 1);
    format!("{mantissa}e+{exponent}")
}

/// `x` rounded to `places` decimal places, trailing zeros dropped.
pub(crate) fn fixed(x: f64, places: usize) -> String {
    // Rust's `{:.N}` is exact and never uses an exponent.
    let mut text = format!("{x:.places$}");
    if text.contains('.') {
        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(kept);
    }
    if text == "-0" {
        text.remove(0);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_cent_values_keep_their_significant_digits_in_plain_notation() {
        assert_eq!(significant(0.000_012_345_678_9, 6), "0.0000123457");
        assert_eq!(significant(0.000_009_8, 15), "0.0000098");
    }

    #[test]
    fn large_values_are_plain_integers_with_decimals_cut_to_the_digits() {
        assert_eq!(significant(1_317_802_988_326.24, 15), "1317802988326.24");
        assert_eq!(significant(95_012.345_678, 6), "95012.3");
    }

    #[test]
    fn fixed_places_drop_trailing_zeros_and_negative_zero() {
        assert_eq!(fixed(1.5, 4), "1.5");
        assert_eq!(fixed(2.0, 2), "2");
        assert_eq!(fixed(-0.0001, 2), "0");
        assert_eq!(fixed(-1.23456, 2), "-1.23");
    }

    #[test]
    fn huge_values_switch_to_exponent_notation_at_1e15() {
        assert_eq!(huge(2.700_165_213_128_15e15), "2.70016521312815e+15");
        assert_eq!(huge(3.2e16), "3.2e+16");
        assert_eq!(huge(2_515_268_352_188.766), "2515268352188.77");
    }

    #[test]
    fn precision_parses_full_and_places_and_ignores_the_rest() {
        assert_eq!(Precision::parse(Some("full")), Precision::Full);
        assert_eq!(Precision::parse(Some("18")), Precision::Places(18));
        assert_eq!(Precision::parse(Some("19")), Precision::Default);
        assert_eq!(Precision::parse(Some("x")), Precision::Default);
        assert_eq!(Precision::parse(None), Precision::Default);
    }
}
