//! `CURRENCY_EXCHANGE_RATE`'s answer: `{"Realtime Currency Exchange Rate":{"1. From_Currency
//! Code":"USD",…,"5. Exchange Rate":"0.92345678","6. Last Refreshed":"2025-01-29 04:41:02",
//! "7. Time Zone":"UTC",…}}`, every value a string. An error is a 200 too, with a body of one
//! top-level `Information`, `Note` or `Error Message`.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use coinbeat_shared::domain::Currency;

/// One exchange rate as Alpha Vantage gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeRate {
    pub from: Currency,
    pub to: Currency,
    /// Units of `to` per unit of `from`, exactly.
    pub rate: Decimal,
    /// `Last Refreshed`, when its time zone is UTC.
    pub last_refreshed: Option<DateTime<Utc>>,
}

/// Why a 200 body holds no rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `Information` or `Note` about the request rate or the daily quota.
    Throttled(String),
    /// `Error Message` (or `Information`) about the key: missing or invalid.
    BadKey(String),
    /// `Error Message` about the call: an unknown currency or parameter.
    BadCall(String),
    /// Not Alpha Vantage's shape at all (a proxy's page, a cut-off body).
    Unreadable(String),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Realtime Currency Exchange Rate")]
    rate: Option<HashMap<String, String>>,
    #[serde(rename = "Information")]
    information: Option<String>,
    #[serde(rename = "Note")]
    note: Option<String>,
    #[serde(rename = "Error Message")]
    error: Option<String>,
}

/// Parses a `CURRENCY_EXCHANGE_RATE` body.
pub fn parse_exchange_rate(body: &str) -> Result<ExchangeRate, Refusal> {
    let unreadable =
        |why: String| Refusal::Unreadable(format!("{why}: {}", crate::http::excerpt(body)));
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|e| unreadable(format!("not JSON ({e})")))?;
    let Some(fields) = envelope.rate else {
        let about_key = |text: &str| text.to_ascii_lowercase().contains("apikey");
        // The quota's and the call frequency's wording, current and older; any other
        // `Information` (a demo key's notice, a premium-only function) will not pass by waiting.
        let about_rate = |text: &str| {
            let text = text.to_ascii_lowercase();
            ["rate limit", "per day", "call frequency", "more sparingly"]
                .iter()
                .any(|words| text.contains(words))
        };
        return Err(
            match (envelope.error, envelope.information.or(envelope.note)) {
                (Some(error), _) if about_key(&error) => Refusal::BadKey(error),
                (Some(error), _) => Refusal::BadCall(error),
                (None, Some(info)) if about_key(&info) => Refusal::BadKey(info),
                (None, Some(info)) if about_rate(&info) => Refusal::Throttled(info),
                (None, Some(info)) => Refusal::BadCall(info),
                (None, None) => unreadable("no exchange rate".into()),
            },
        );
    };
    let field = |suffix: &str| {
        fields
            .iter()
            .find(|(key, _)| key.split_once(". ").is_some_and(|(_, name)| name == suffix))
            .map(|(_, value)| value.trim())
    };
    let currency = |suffix: &str| {
        field(suffix)
            .and_then(|code| Currency::parse(code).ok())
            .ok_or_else(|| unreadable(format!("no {suffix}")))
    };
    let rate = field("Exchange Rate")
        .and_then(|text| Decimal::from_str_exact(text).ok())
        .filter(|rate| rate.is_sign_positive() && !rate.is_zero())
        .ok_or_else(|| unreadable("no positive Exchange Rate".into()))?;
    let last_refreshed = (field("Time Zone") == Some("UTC"))
        .then(|| field("Last Refreshed"))
        .flatten()
        .and_then(|text| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok())
        .map(|naive| naive.and_utc());
    Ok(ExchangeRate {
        from: currency("From_Currency Code")?,
        to: currency("To_Currency Code")?,
        rate,
        last_refreshed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_and_its_time_are_read_exactly() {
        let body = r#"{"Realtime Currency Exchange Rate":{"1. From_Currency Code":"USD",
            "2. From_Currency Name":"United States Dollar","3. To_Currency Code":"JPY",
            "4. To_Currency Name":"Japanese Yen","5. Exchange Rate":"155.32700000",
            "6. Last Refreshed":"2025-01-29 04:41:02","7. Time Zone":"UTC",
            "8. Bid Price":"155.32010000","9. Ask Price":"155.33000000"}}"#;
        let rate = parse_exchange_rate(body).unwrap();
        assert_eq!(rate.from, Currency::USD);
        assert_eq!(rate.to.as_str(), "JPY");
        assert_eq!(rate.rate.to_string(), "155.32700000");
        assert_eq!(
            rate.last_refreshed.unwrap().to_rfc3339(),
            "2025-01-29T04:41:02+00:00"
        );
    }

    #[test]
    fn errors_at_200_say_what_they_are() {
        let throttled =
            r#"{"Information":"Thank you for using Alpha Vantage! ... (25 requests per day) ..."}"#;
        assert!(matches!(
            parse_exchange_rate(throttled),
            Err(Refusal::Throttled(_))
        ));
        let note = r#"{"Note":"Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute"}"#;
        assert!(matches!(
            parse_exchange_rate(note),
            Err(Refusal::Throttled(_))
        ));
        let key = r#"{"Error Message":"the parameter apikey is invalid or missing."}"#;
        assert!(matches!(parse_exchange_rate(key), Err(Refusal::BadKey(_))));
        let call =
            r#"{"Error Message":"Invalid API call. Please retry or visit the documentation"}"#;
        assert!(matches!(
            parse_exchange_rate(call),
            Err(Refusal::BadCall(_))
        ));
        // Waiting will not help a notice that is not about the rate.
        let premium = r#"{"Information":"This is a premium endpoint."}"#;
        assert!(matches!(
            parse_exchange_rate(premium),
            Err(Refusal::BadCall(_))
        ));
        assert!(matches!(
            parse_exchange_rate("<html>"),
            Err(Refusal::Unreadable(_))
        ));
    }
}
