//! `?vs=eur`: a price's figures in another currency, beside its USD ones.
//!
//! Prices are kept in US dollars. With `?vs=`, each price carries a `vs` object: its price,
//! market cap and volume multiplied by the stored exchange rate (`cache::RateRecord`, which the
//! `rates` queue fetches from Alpha Vantage), exactly (decimal products, no float), with the
//! rate itself and its own age, source and staleness, so a client sees how old each half of
//! the figure is. `?vs=usd` is the identity (rate 1, source `usd`).
//!
//! - 422 `invalid_currency`: not a three-letter code.
//! - 404 `unknown_currency`: a currency `rates.currencies` does not list (as an unknown coin
//!   is 404: the price in that currency does not exist).
//! - 503 `rate_unavailable`: a listed currency with no rate stored (not fetched yet, no Alpha
//!   Vantage key, or gone a week after its last refresh).

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{Freshness, PriceRecord, RateRecord},
    domain::Currency,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, exact, price_json::fields_of};

/// The `vs` query parameter the price routes and streams take.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct VsQuery {
    /// A currency to show each price in besides USD (`eur`, `GBP`, any case): one of
    /// `rates.currencies`, or `usd`.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z]{3}$")]
    pub vs: Option<String>,
}

/// The rate a request's `?vs=` chose.
#[derive(Debug, Clone)]
pub struct Conversion {
    currency: Currency,
    /// `None` for USD itself.
    rate: Option<RateRecord>,
    fresh_for: std::time::Duration,
}

/// A price's figures in the `vs` currency, and the rate they were computed with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InCurrency {
    #[schema(value_type = String)]
    pub currency: Currency,
    /// `usd × rate`, exact: every digit of the product, however many.
    #[serde(serialize_with = "exact::plain")]
    #[schema(value_type = String)]
    pub price: BigDecimal,
    #[serde(serialize_with = "exact::plain_opt")]
    #[schema(value_type = Option<String>)]
    pub market_cap: Option<BigDecimal>,
    #[serde(serialize_with = "exact::plain_opt")]
    #[schema(value_type = Option<String>)]
    pub volume_24h: Option<BigDecimal>,
    /// Units of `currency` per US dollar.
    pub rate: Decimal,
    /// Where the rate came from (`alphavantage`; `usd` for the identity).
    pub rate_source: String,
    /// When the upstream says the rate is of.
    pub rate_as_of: Option<DateTime<Utc>>,
    /// When the rate was fetched.
    pub rate_fetched_at: Option<DateTime<Utc>>,
    /// Whole seconds since `rate_fetched_at`.
    pub rate_age_seconds: u64,
    /// True once the rate is older than `rates.fresh_secs`.
    pub rate_stale: bool,
}

/// [`InCurrency`] under its field name, for a price's JSON.
#[derive(Serialize)]
struct VsField<'a> {
    vs: &'a InCurrency,
}

impl Conversion {
    /// The conversion `vs` asks for, or `None` without one.
    pub async fn of(state: &AppState, vs: Option<&str>) -> Result<Option<Self>, ApiError> {
        let Some(vs) = vs else { return Ok(None) };
        let currency = Currency::parse(vs).map_err(|e| ApiError::InvalidCurrency(e.0))?;
        let settings = &state.settings().rates;
        if !settings.knows(currency) {
            return Err(ApiError::UnknownCurrency {
                currency,
                known: std::iter::once(Currency::USD)
                    .chain(settings.currencies.iter().copied())
                    .collect(),
            });
        }
        let rate = if currency == Currency::USD {
            None
        } else {
            let rates = state.rates().await?;
            Some(
                rates
                    .get(&currency)
                    .cloned()
                    .ok_or(ApiError::RateUnavailable(currency))?,
            )
        };
        Ok(Some(Self {
            currency,
            rate,
            fresh_for: settings.fresh_for(),
        }))
    }

    /// `record`'s figures in this currency at `now`.
    pub fn convert(&self, record: &PriceRecord, now: DateTime<Utc>) -> InCurrency {
        let per_usd = self.rate.as_ref().map_or(Decimal::ONE, |r| r.per_usd);
        let rate = exact::big(per_usd);
        let times = |usd: &Decimal| exact::big(*usd) * &rate;
        let (age, stale) = match &self.rate {
            Some(rate) => {
                let freshness = Freshness::assess(rate.fetched_at, now, self.fresh_for);
                (freshness.age_seconds, freshness.stale)
            }
            None => (0, false),
        };
        InCurrency {
            currency: self.currency,
            price: times(&record.usd),
            market_cap: record.market_cap_usd.as_ref().map(times),
            volume_24h: record.volume_24h_usd.as_ref().map(times),
            rate: per_usd,
            rate_source: self
                .rate
                .as_ref()
                .map_or_else(|| "usd".to_owned(), |r| r.source.clone()),
            rate_as_of: self.rate.as_ref().and_then(|r| r.as_of),
            rate_fetched_at: self.rate.as_ref().map(|r| r.fetched_at),
            rate_age_seconds: age,
            rate_stale: stale,
        }
    }

    /// `"vs":{…}` for [`crate::price_json::Priced::write`]'s `extra`.
    pub fn field(&self, record: &PriceRecord, now: DateTime<Utc>) -> Vec<u8> {
        fields_of(&VsField {
            vs: &self.convert(record, now),
        })
    }
}

/// `extra` with the `vs` field of `record` appended, when a conversion is asked for.
pub fn with_vs(
    extra: Vec<u8>,
    conversion: Option<&Conversion>,
    record: &PriceRecord,
    now: DateTime<Utc>,
) -> Vec<u8> {
    let Some(conversion) = conversion else {
        return extra;
    };
    let vs = conversion.field(record, now);
    if extra.is_empty() {
        return vs;
    }
    let mut out = extra;
    out.push(b',');
    out.extend_from_slice(&vs);
    out
}
