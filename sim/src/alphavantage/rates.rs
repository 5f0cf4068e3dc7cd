//! The exchange rates behind `CURRENCY_EXCHANGE_RATE`. Each currency's units per US dollar drift
//! within ±0.5 % of a realistic anchor as a pure function of (seed, currency, step), like the
//! coins' walks: one step gives one rate, whatever the requests before it. Cross rates go
//! through the dollar (EUR→JPY is JPY per USD over EUR per USD); a currency to itself is 1.

use crate::rng;

/// A fiat currency the simulated Alpha Vantage quotes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FiatCurrency {
    /// ISO 4217 code: `EUR`.
    pub code: &'static str,
    /// The name Alpha Vantage answers with, from its physical currency list as third-party copies
    /// show it: `Euro`, `British Pound Sterling`.
    pub name: &'static str,
    /// Units per US dollar that the rate drifts around (late-2025 levels, rounded).
    pub per_usd: f64,
}

const fn fiat_currency(code: &'static str, name: &'static str, per_usd: f64) -> FiatCurrency {
    FiatCurrency {
        code,
        name,
        per_usd,
    }
}

/// Every currency the sim quotes, US dollar first.
pub const FIAT_CURRENCIES: [FiatCurrency; 12] = [
    fiat_currency("USD", "United States Dollar", 1.0),
    fiat_currency("EUR", "Euro", 0.92),
    fiat_currency("GBP", "British Pound Sterling", 0.79),
    fiat_currency("JPY", "Japanese Yen", 150.0),
    fiat_currency("CHF", "Swiss Franc", 0.88),
    fiat_currency("CAD", "Canadian Dollar", 1.36),
    fiat_currency("AUD", "Australian Dollar", 1.52),
    fiat_currency("CNY", "Chinese Yuan", 7.2),
    fiat_currency("INR", "Indian Rupee", 83.5),
    fiat_currency("KRW", "South Korean Won", 1350.0),
    fiat_currency("BRL", "Brazilian Real", 5.0),
    fiat_currency("MXN", "Mexican Peso", 17.5),
];

/// The most a rate to the dollar strays from its anchor.
const MAX_DRIFT: f64 = 0.005;
/// Steps between the knots of the slow and of the fast drift: an hour and five minutes at the
/// default step of a second.
const SLOW_KNOTS: u64 = 3_600;
const FAST_KNOTS: u64 = 300;
/// The slow drift's share of [`MAX_DRIFT`]; the fast one has the rest.
const SLOW_SHARE: f64 = 0.8;
/// Half the bid-ask spread, relative to the rate (half a basis point).
const HALF_SPREAD: f64 = 0.000_05;
/// Sets the fast drift's random stream apart from the slow one's.
const FAST_STREAM: u64 = 0xFA57;

/// The currency `code` names, ASCII case-insensitively (whether the real API accepts lower
/// case is UNCONFIRMED).
pub(crate) fn fiat(code: &str) -> Option<&'static FiatCurrency> {
    FIAT_CURRENCIES
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(code.trim()))
}

/// One pair at one step, each number as Alpha Vantage writes it: 8 decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quote {
    pub(crate) rate: String,
    pub(crate) bid: String,
    pub(crate) ask: String,
}

/// Units of `to` per unit of `from` at `step`; a currency to itself has no spread.
pub(crate) fn quote(seed: u64, step: u64, from: &FiatCurrency, to: &FiatCurrency) -> Quote {
    let (rate, half_spread) = if from.code == to.code {
        (1.0, 0.0)
    } else {
        (
            per_usd(seed, to, step) / per_usd(seed, from, step),
            HALF_SPREAD,
        )
    };
    Quote {
        rate: decimals(rate),
        bid: decimals(rate * (1.0 - half_spread)),
        ask: decimals(rate * (1.0 + half_spread)),
    }
}

/// Units of `currency` per US dollar at `step` (the dollar itself: exactly 1).
fn per_usd(seed: u64, currency: &FiatCurrency, step: u64) -> f64 {
    if currency.code == "USD" {
        return 1.0;
    }
    let stream = rng::stream_of(currency.code.as_bytes());
    let drift = SLOW_SHARE * noise(seed, stream, step, SLOW_KNOTS)
        + (1.0 - SLOW_SHARE) * noise(seed, stream ^ FAST_STREAM, step, FAST_KNOTS);
    currency.per_usd * (1.0 + MAX_DRIFT * drift)
}

/// Smooth noise within [-1, 1]: a seeded value at every `knots`th step, eased in between.
fn noise(seed: u64, stream: u64, step: u64, knots: u64) -> f64 {
    let knot = step / knots;
    let t = (step % knots) as f64 / knots as f64;
    let eased = t * t * (3.0 - 2.0 * t);
    let at = |k: u64| 2.0 * rng::unit(seed, stream, k) - 1.0;
    let (a, b) = (at(knot), at(knot + 1));
    a + (b - a) * eased
}

fn decimals(x: f64) -> String {
    format!("{x:.8}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(seed: u64, step: u64, from: &str, to: &str) -> f64 {
        let (from, to) = (fiat(from).unwrap(), fiat(to).unwrap());
        quote(seed, step, from, to).rate.parse().unwrap()
    }

    #[test]
    fn rates_stay_within_half_a_percent_of_their_anchor_and_do_move() {
        for currency in &FIAT_CURRENCIES[1..] {
            let rates: Vec<f64> = (0..20_000u64)
                .step_by(7)
                .map(|step| per_usd(3, currency, step))
                .collect();
            for r in &rates {
                let off = r / currency.per_usd - 1.0;
                assert!(off.abs() <= MAX_DRIFT + 1e-12, "{}: {r}", currency.code);
            }
            let (lo, hi) = rates
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
            assert!(
                hi / lo > 1.001,
                "{} barely moves: {lo}..{hi}",
                currency.code
            );
        }
    }

    #[test]
    fn one_step_gives_one_quote_and_seeds_differ() {
        let (usd, eur) = (fiat("USD").unwrap(), fiat("EUR").unwrap());
        assert_eq!(quote(5, 100, usd, eur), quote(5, 100, usd, eur));
        assert_ne!(quote(5, 100, usd, eur), quote(6, 100, usd, eur));
        assert_ne!(quote(5, 100, usd, eur), quote(5, 101, usd, eur));
    }

    #[test]
    fn cross_rates_go_through_the_dollar_and_a_currency_to_itself_is_one() {
        let eur_jpy = rate(1, 42, "EUR", "JPY");
        let through_usd = rate(1, 42, "USD", "JPY") / rate(1, 42, "USD", "EUR");
        assert!(
            (eur_jpy / through_usd - 1.0).abs() < 1e-7,
            "{eur_jpy} {through_usd}"
        );
        let back = rate(1, 42, "JPY", "EUR");
        assert!((eur_jpy * back - 1.0).abs() < 1e-5, "{eur_jpy} {back}");
        let gbp = fiat("gbp").unwrap();
        let same = quote(1, 42, gbp, gbp);
        assert_eq!([same.rate, same.bid, same.ask], ["1.00000000"; 3]);
    }

    #[test]
    fn every_number_has_eight_decimals_and_the_bid_is_below_the_ask() {
        let (usd, krw) = (fiat("USD").unwrap(), fiat("KRW").unwrap());
        let q = quote(9, 7, usd, krw);
        for text in [&q.rate, &q.bid, &q.ask] {
            let (_, places) = text.split_once('.').unwrap();
            assert_eq!(places.len(), 8, "{text}");
        }
        let [rate, bid, ask] = [&q.rate, &q.bid, &q.ask].map(|t| t.parse::<f64>().unwrap());
        assert!(bid < rate && rate < ask, "{bid} {rate} {ask}");
        assert_eq!(decimals(0.923_456_784_9), "0.92345678");
    }

    #[test]
    fn codes_are_known_whatever_their_case_and_unknown_ones_are_not() {
        assert_eq!(fiat(" eur").unwrap().name, "Euro");
        assert_eq!(fiat("JPY").unwrap().name, "Japanese Yen");
        assert!(fiat("BTC").is_none());
        assert!(fiat("").is_none());
    }
}
