//! `POST /v1/portfolio/value`: the USD value of a list of holdings at the cached prices.
//!
//! Body: `{"holdings": [{"symbol": "BTC", "amount": "0.5"}, ...]}`. An amount is a decimal
//! string or a JSON number, read from its text (never through a float), positive, with at most
//! 28 significant digits. 1 to `api.max_portfolio_holdings` holdings; a symbol listed twice is
//! one holding with the amounts summed (in the place of its first listing).
//!
//! Per valued holding: `amount`, `price_usd`, `value_usd` (`amount × price_usd`), `fetched_at`,
//! `source`, `age_seconds`, `stale`, and `allocation_pct`, its share of the valued total in
//! percent, rounded half away from zero to [`ALLOCATION_DECIMALS`] places (so the shares add up
//! to 100 within that rounding). A holding with no cached price is listed under `missing` and
//! never valued; `partial` then says `total_value_usd` leaves it out.
//!
//! Summed amounts, values and the total are exact at any size ([`BigDecimal`]): a product of
//! two 28-digit decimals, or a sum of values of wildly different magnitudes, needs more digits
//! than a `Decimal` holds, and rounding one would make the total a different number.

use std::collections::HashMap;

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use bigdecimal::{BigDecimal, RoundingMode, Zero};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::Freshness,
    domain::{CoinId, Symbol},
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{
    ToSchema,
    openapi::{
        RefOr,
        schema::{AnyOfBuilder, ObjectBuilder, Schema, Type},
    },
};

use crate::{
    ApiError, AppState, JsonBody,
    exact::{self, big},
    routes::prices::{Missing, named_symbols, records},
};

/// Decimal places of `allocation_pct`.
pub const ALLOCATION_DECIMALS: u32 = 4;

/// The body of `POST /v1/portfolio/value`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortfolioRequest {
    /// 1 to `api.max_portfolio_holdings` (the document says this deployment's number).
    #[schema(min_items = 1)]
    holdings: Vec<HoldingRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct HoldingRequest {
    #[schema(value_type = Symbol)]
    symbol: String,
    /// Kept as its JSON text, so a number is read digit by digit.
    #[schema(schema_with = amount_schema)]
    amount: Box<RawValue>,
}

/// What [`parse_amount`] reads: a positive decimal of at most 28 significant digits, as a
/// string or a number. (The string pattern keeps to 12 whole digits and 8 decimals, which every
/// real holding fits; the parser takes any 28 digits.)
fn amount_schema() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(
                    "^0*([1-9][0-9]{0,11}(\\.[0-9]{1,8})?|0?\\.[0-9]{0,7}[1-9])$",
                ))
                .examples(["0.5"]),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(MIN_NUMBER_AMOUNT))
                // The largest float below `Decimal::MAX`.
                .maximum(Some(7.922816251426433e28)),
        )
        .description(Some(
            "A positive amount: a decimal string (exact) or a JSON number (read from its text, \
             never through a float) of at least 0.00000001.",
        ))
        .into()
}

/// The answer of `POST /v1/portfolio/value`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioResponse {
    holdings: Vec<Valued>,
    missing: Vec<MissingHolding>,
    /// The sum of `value_usd` over `holdings`, exact.
    #[serde(serialize_with = "exact::plain")]
    #[schema(value_type = String, example = "46594.66")]
    total_value_usd: BigDecimal,
    /// True when some holding has no cached price and is left out of the total.
    partial: bool,
    /// True when some price used is older than `prices.fresh_secs`.
    any_stale: bool,
    /// True when Redis could not be reached and the prices are the API's last copy of them.
    cache_unchecked: bool,
    allocation_decimals: u32,
    valued_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Valued {
    symbol: Symbol,
    /// The amount (amounts of one symbol listed twice summed), exact.
    #[serde(serialize_with = "exact::plain")]
    #[schema(value_type = String, example = "0.5")]
    amount: BigDecimal,
    price_usd: Decimal,
    /// `amount × price_usd`, exact.
    #[serde(serialize_with = "exact::plain")]
    #[schema(value_type = String, example = "33593.66794682830")]
    value_usd: BigDecimal,
    /// Percent of `total_value_usd`; `null` when the total is zero.
    #[serde(serialize_with = "exact::plain_opt")]
    #[schema(value_type = Option<String>, example = "72.0960")]
    allocation_pct: Option<BigDecimal>,
    fetched_at: DateTime<Utc>,
    source: String,
    age_seconds: u64,
    stale: bool,
}

#[derive(Debug, Serialize, ToSchema)]
struct MissingHolding {
    #[serde(serialize_with = "exact::plain")]
    #[schema(value_type = String, example = "2")]
    amount: BigDecimal,
    #[serde(flatten)]
    missing: Missing,
}

pub async fn value(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<PortfolioRequest>,
) -> Result<Response, ApiError> {
    let holdings = parse_holdings(&request, state.settings().api.max_portfolio_holdings)?;
    let symbols: Vec<Symbol> = holdings.iter().map(|(s, _)| s.clone()).collect();
    let named = named_symbols(&state, &symbols).await?;
    let coins: Vec<CoinId> = named.iter().flatten().map(|n| n.id.clone()).collect();
    let found = records(&state, &coins).await?;
    let (now, unchecked) = (found.now, found.unchecked);
    // Back in the holdings' order: a symbol no coin has gets no record.
    let mut found = found.records.into_iter();
    let records: Vec<_> = named
        .iter()
        .map(|n| n.as_ref().and_then(|_| found.next().flatten()))
        .collect();
    let fresh_for = state.settings().prices.fresh_for();
    let mut valued = Vec::new();
    let mut missing = Vec::new();
    let mut total = BigDecimal::from(0);
    for (((symbol, amount), record), named) in holdings.into_iter().zip(records).zip(&named) {
        let Some(record) = record else {
            missing.push(MissingHolding {
                amount,
                missing: Missing::of(&state, Some(&symbol), named.as_ref(), unchecked),
            });
            continue;
        };
        let value = &amount * big(record.usd);
        total += &value;
        let freshness = Freshness::assess(record.fetched_at, now, fresh_for);
        valued.push(Valued {
            symbol,
            amount,
            price_usd: record.usd,
            value_usd: value,
            allocation_pct: None,
            fetched_at: record.fetched_at,
            source: record.source.clone(),
            age_seconds: freshness.age_seconds,
            stale: freshness.stale,
        });
    }
    if !total.is_zero() {
        for holding in &mut valued {
            holding.allocation_pct = Some(allocation(&holding.value_usd, &total));
        }
    }
    Ok(Json(PortfolioResponse {
        any_stale: valued.iter().any(|h| h.stale),
        cache_unchecked: unchecked,
        partial: !missing.is_empty(),
        holdings: valued,
        missing,
        total_value_usd: total,
        allocation_decimals: ALLOCATION_DECIMALS,
        valued_at: now,
    })
    .into_response())
}

/// The holdings in the order first listed, duplicates summed; 422 `invalid_holdings` (or
/// `invalid_symbol`) naming the first that is wrong.
fn parse_holdings(
    request: &PortfolioRequest,
    max: usize,
) -> Result<Vec<(Symbol, BigDecimal)>, ApiError> {
    if request.holdings.is_empty() {
        return Err(ApiError::InvalidHoldings(
            "holdings is empty: list at least one {\"symbol\", \"amount\"}".into(),
        ));
    }
    if request.holdings.len() > max {
        return Err(ApiError::InvalidHoldings(format!(
            "{} holdings listed; at most {max} (the api.max_portfolio_holdings setting)",
            request.holdings.len()
        )));
    }
    let mut order: Vec<(Symbol, BigDecimal)> = Vec::new();
    let mut index: HashMap<Symbol, usize> = HashMap::new();
    for (i, holding) in request.holdings.iter().enumerate() {
        let symbol = Symbol::parse(&holding.symbol)?;
        let amount = parse_amount(holding.amount.get()).map_err(|why| {
            ApiError::InvalidHoldings(format!("holdings[{i}] ({symbol}): amount {why}"))
        })?;
        match index.get(&symbol) {
            Some(&at) => order[at].1 += big(amount),
            None => {
                index.insert(symbol.clone(), order.len());
                order.push((symbol, big(amount)));
            }
        }
    }
    Ok(order)
}

/// The smallest amount a JSON number may give (smaller ones as decimal strings): a float's
/// shortest text below it can need more than the 28 decimal places a `Decimal` holds.
const MIN_NUMBER_AMOUNT: f64 = 1e-8;

/// An amount from its JSON text: a string holding a decimal, or a number; positive.
fn parse_amount(json: &str) -> Result<Decimal, String> {
    let number = !json.starts_with('"');
    let text: String = if !number {
        serde_json::from_str(json).map_err(|e| format!("is not a string: {e}"))?
    } else if json.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        json.to_owned()
    } else {
        return Err(format!("must be a decimal string or a number, got {json}"));
    };
    let trimmed = text.trim();
    let amount = if trimmed.contains(['e', 'E']) {
        Decimal::from_scientific(trimmed)
    } else {
        trimmed.parse::<Decimal>()
    }
    .map_err(|_| format!("{trimmed:?} is not a decimal number (or has more than 28 digits)"))?;
    if amount <= Decimal::ZERO {
        return Err(format!("must be above zero, got {trimmed}"));
    }
    if number && amount < Decimal::new(1, 8) {
        return Err(format!(
            "{trimmed} is below 0.00000001, the least a JSON number may give; give it as a \
             decimal string"
        ));
    }
    // `Decimal`'s parser rounds digits past its 28 places; a rounded amount is not the amount.
    if amount.normalize().to_string() != normalize_text(trimmed) {
        return Err(format!(
            "{trimmed:?} has more significant digits than can be held exactly (28)"
        ));
    }
    Ok(amount)
}

/// A plain decimal's text without its insignificant zeros, as `Decimal::normalize` prints it
/// (`0010.500` → `10.5`); scientific notation is left to `Decimal` itself.
fn normalize_text(text: &str) -> String {
    if text.contains(['e', 'E']) {
        return Decimal::from_scientific(text)
            .map(|d| d.normalize().to_string())
            .unwrap_or_default();
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    }
}

/// `value` as a percentage of `total`, rounded half away from zero to [`ALLOCATION_DECIMALS`]
/// places and always written with that many (`100.0000`).
fn allocation(value: &BigDecimal, total: &BigDecimal) -> BigDecimal {
    // The quotient carries 100 significant digits, far past the 4 places kept, so rounding it
    // rounds the exact share.
    (value * BigDecimal::from(100) / total)
        .with_scale_round(i64::from(ALLOCATION_DECIMALS), RoundingMode::HalfUp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn amounts_are_read_exactly_from_strings_and_numbers() {
        assert_eq!(parse_amount("\"0.5\"").unwrap(), d("0.5"));
        assert_eq!(parse_amount("0.1").unwrap(), d("0.1"));
        assert_eq!(
            parse_amount("12345678901234.123456789").unwrap(),
            d("12345678901234.123456789")
        );
        assert_eq!(parse_amount("1e-3").unwrap(), d("0.001"));
        assert_eq!(parse_amount("1e-08").unwrap(), d("0.00000001"));
        assert_eq!(
            parse_amount("7.922816251426433e+28").unwrap(),
            d("79228162514264330000000000000")
        );
        assert_eq!(parse_amount("\"0.000000001\"").unwrap(), d("0.000000001"));
        assert_eq!(parse_amount("\"007.50\"").unwrap(), d("7.50"));
        for bad in [
            "0",
            "\"0.0\"",
            "-1",
            "\"-0.5\"",
            "\"abc\"",
            "true",
            "null",
            "{}",
            "\"\"",
            "\"1.00000000000000000000000000001\"",
            "0.000000001",
            "1.0998380632271167e-160",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn products_and_sums_are_exact_past_28_digits() {
        let product = big(d("0.1234567890123456789")) * big(d("0.1234567890123456789"));
        assert_eq!(
            product.to_plain_string(),
            "0.01524157875323883675019051998750190521"
        );
        let huge = big(d("79228162514264337593543950335"));
        assert_eq!(
            (&huge * big(d("2")) + big(d("0.00000001"))).to_plain_string(),
            "158456325028528675187087900670.00000001"
        );
        assert_eq!(
            big(d("7.50")).to_plain_string(),
            "7.50",
            "the scale is kept"
        );
    }

    #[test]
    fn shares_round_half_away_from_zero_to_four_places() {
        let total = big(d("3"));
        assert_eq!(
            allocation(&big(d("1")), &total).to_plain_string(),
            "33.3333"
        );
        assert_eq!(
            allocation(&big(d("2")), &total).to_plain_string(),
            "66.6667"
        );
        assert_eq!(allocation(&total, &total).to_plain_string(), "100.0000");
        let tie = allocation(&big(d("0.000005")), &big(d("100")));
        assert_eq!(
            tie.to_plain_string(),
            "0.0000",
            "0.000005% is below half of the last place"
        );
        let tie = allocation(&big(d("0.00005")), &big(d("100")));
        assert_eq!(tie.to_plain_string(), "0.0001", "0.00005% rounds up");
    }
}
