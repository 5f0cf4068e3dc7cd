//! Exchange rates: the currencies besides the US dollar that prices can be shown in
//! (`?vs=eur`), and when the `rates` entry refreshes them from Alpha Vantage.
//!
//! Alpha Vantage's free key allows 25 requests a day and answers one currency pair per
//! request, so the refresh is sized to it: by default three currencies every four hours, 18
//! requests a day, leaving 7 for retries (the health worker does not probe it: a probe every
//! five minutes would spend the day's quota). `coinbeat plan` counts the
//! calls, so a longer list or a tighter cron is refused (or stretched) at the beat's start.

use serde::{Deserialize, Serialize};

use super::{ScheduleEntry, ScheduleTable};
use crate::{domain::Currency, jobs::Queue};

/// The name of the schedule entry that refreshes the rates.
pub const RATES_ENTRY: &str = "rates";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RatesSettings {
    /// Currencies other than USD prices can be shown in. Empty: none, and no `rates` entry.
    /// `COINBEAT_RATES__CURRENCIES='["EUR","GBP","JPY"]'`.
    pub currencies: Vec<Currency>,
    /// When the `rates` entry runs (six fields, seconds first). Default every four hours.
    pub cron: String,
    /// A rate older than this is served with `rate_stale: true`. Default 12 hours: three missed
    /// refreshes.
    pub fresh_secs: u64,
}

impl Default for RatesSettings {
    fn default() -> Self {
        Self {
            currencies: ["EUR", "GBP", "JPY"]
                .iter()
                .map(|c| Currency::parse(c).expect("built-in currencies are valid"))
                .collect(),
            cron: "0 5 */4 * * *".into(),
            fresh_secs: 12 * 3_600,
        }
    }
}

impl RatesSettings {
    /// No currency twice, and not USD (every price is in USD already).
    pub fn validate(&self) -> Result<(), String> {
        for (i, currency) in self.currencies.iter().enumerate() {
            if *currency == Currency::USD {
                return Err("rates.currencies lists USD: prices are in USD already".into());
            }
            if self.currencies[..i].contains(currency) {
                return Err(format!("rates.currencies lists {currency} twice"));
            }
        }
        Ok(())
    }

    /// Whether prices can be shown in `currency`.
    pub fn knows(&self, currency: Currency) -> bool {
        currency == Currency::USD || self.currencies.contains(&currency)
    }

    /// The `rates` entry, unless the table has one already or no currency is configured.
    pub fn extend_schedule(&self, table: &mut ScheduleTable) {
        if self.currencies.is_empty() {
            return;
        }
        table
            .entry(RATES_ENTRY.to_owned())
            .or_insert_with(|| ScheduleEntry {
                cron: self.cron.clone(),
                kind: Queue::Rates,
                args: serde_json::json!({}),
                enabled: true,
                tier: None,
            });
    }

    pub fn fresh_for(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.fresh_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_or_a_currency_twice_is_refused() {
        let mut rates = RatesSettings::default();
        assert!(rates.validate().is_ok());
        rates.currencies.push(Currency::USD);
        assert!(rates.validate().unwrap_err().contains("USD"));
        rates.currencies.pop();
        rates.currencies.push(Currency::parse("eur").unwrap());
        assert!(rates.validate().unwrap_err().contains("EUR twice"));
    }

    #[test]
    fn the_entry_is_added_only_with_currencies() {
        let mut table = ScheduleTable::new();
        RatesSettings {
            currencies: Vec::new(),
            ..RatesSettings::default()
        }
        .extend_schedule(&mut table);
        assert!(table.is_empty());
        RatesSettings::default().extend_schedule(&mut table);
        assert_eq!(table[RATES_ENTRY].kind, Queue::Rates);
    }
}
