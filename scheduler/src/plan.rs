//! The call plan: what the schedule table costs each upstream in every window of its
//! configured limit (`providers.<name>.rate_limit`, month windows included), so an operator sees
//! before anything runs whether the table fits the plan they pay for.
//!
//! Each entry's calls per run come from its job kind and arguments (a prices job: one
//! `/simple/price` call per `max_ids_per_request` coins; a market job: its pages, `/global` and
//! one `/coins/{id}` per tracked coin; the catalogue: `/coins/list` and its rank pages; a health
//! job: one probe per provider). The ticks of an entry in a window are counted from its cron
//! over the next day, at the worst alignment for windows up to a day and scaled by days for
//! longer ones. Fallback calls (Binance for prices, CoinLore for markets) happen only when the
//! primary fails and are not counted; on-demand jobs come on top of the plan.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use coinbeat_shared::{
    Settings,
    jobs::{MarketJob, PricesJob, Queue},
    ratelimit::{Provider, RateWindow},
};
use serde::Serialize;

use crate::entry::Entry;

/// Calls one run of an entry makes, per provider (Binance: request weight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryCalls {
    pub entry: String,
    pub calls: BTreeMap<Provider, u64>,
}

/// One window of one provider's limit, and what the table needs of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowUse {
    pub provider: Provider,
    /// The window as configured, e.g. `30/min` or `10000/month`.
    pub window: String,
    pub limit: u64,
    /// Calls the table makes in the busiest such window.
    pub needed: u64,
    pub fits: bool,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub entries: Vec<EntryCalls>,
    pub windows: Vec<WindowUse>,
}

impl Plan {
    /// The windows the table does not fit.
    pub fn over(&self) -> impl Iterator<Item = &WindowUse> {
        self.windows.iter().filter(|w| !w.fits)
    }
}

/// The plan of `entries` (the parsed table) under `settings`' limits, counting ticks from `from`.
pub fn plan(settings: &Settings, entries: &[Entry], from: DateTime<Utc>) -> Plan {
    let costs: Vec<(EntryCalls, Queue, Vec<i64>)> = entries
        .iter()
        .map(|entry| {
            let calls = EntryCalls {
                entry: entry.name().to_owned(),
                calls: calls_per_run(settings, entry.kind(), entry.payload()),
            };
            (calls, entry.kind(), ticks_in_a_day(entry, from))
        })
        .collect();
    let mut windows = Vec::new();
    for provider in Provider::ALL {
        let Ok(spec) = settings.providers.rate_spec(provider) else {
            continue;
        };
        // Every call of the day at the moment it goes out: a run's calls at its tick, the
        // catalogue's spread at its pace (twice the shortest window's gap).
        let pace_ms = spec.windows().first().map_or(0, |w| {
            (w.period().as_millis() as u64 * 2 / u64::from(w.limit())) as i64
        });
        let mut calls: Vec<(i64, u64)> = Vec::new();
        for (entry, kind, ticks) in &costs {
            let Some(&per_run) = entry.calls.get(&provider) else {
                continue;
            };
            for &tick in ticks {
                if *kind == Queue::Catalogue && pace_ms > 0 {
                    calls.extend((0..per_run as i64).map(|k| (tick + k * pace_ms, 1)));
                } else {
                    calls.push((tick, per_run));
                }
            }
        }
        calls.sort_unstable();
        for window in spec.windows() {
            let needed = busiest(&calls, window);
            windows.push(WindowUse {
                provider,
                window: window.to_string(),
                limit: u64::from(window.limit()),
                needed,
                fits: needed <= u64::from(window.limit()),
            });
        }
    }
    Plan {
        entries: costs.into_iter().map(|(calls, _, _)| calls).collect(),
        windows,
    }
}

/// Calls one run of a job of `kind` with `payload` makes, per provider.
pub fn calls_per_run(
    settings: &Settings,
    kind: Queue,
    payload: &serde_json::Value,
) -> BTreeMap<Provider, u64> {
    let providers = &settings.providers;
    let per_call = providers.coingecko.max_ids_per_request.max(1) as u64;
    let tracked = settings.prices.tracked.len() as u64;
    let mut calls = BTreeMap::new();
    match kind {
        Queue::Prices => {
            let job: PricesJob = serde_json::from_value(payload.clone()).unwrap_or_default();
            let coins = job
                .ids
                .map(|ids| ids.len())
                .or(job.symbols.map(|s| s.len()))
                .map_or(tracked, |n| n as u64);
            calls.insert(Provider::CoinGecko, coins.div_ceil(per_call));
        }
        Queue::Market => {
            let limit = serde_json::from_value::<MarketJob>(payload.clone())
                .map_or(u64::from(MarketJob::DEFAULT_LIMIT), |job| {
                    u64::from(job.limit)
                });
            // Pages of 250, `/global`, one `/coins/{id}` per tracked coin's supply.
            calls.insert(Provider::CoinGecko, limit.div_ceil(250) + 1 + tracked);
        }
        Queue::Catalogue => {
            calls.insert(
                Provider::CoinGecko,
                1 + u64::from(settings.catalogue.rank_pages(250)),
            );
        }
        Queue::Health => {
            calls.insert(Provider::CoinGecko, 1);
            calls.insert(Provider::Binance, 1);
            calls.insert(Provider::CoinLore, 1);
            if providers.etherscan.api_key.is_some() {
                calls.insert(Provider::Etherscan, 1);
            }
        }
        // A balance, then at least one page of each list.
        Queue::Wallet => {
            calls.insert(Provider::Etherscan, 3);
        }
        Queue::Cleanup => {}
    }
    calls
}

/// The entry's ticks in the day from `from` (unix ms), at most one a second.
fn ticks_in_a_day(entry: &Entry, from: DateTime<Utc>) -> Vec<i64> {
    let end = from + TimeDelta::days(1);
    entry
        .schedule()
        .after(&from)
        .take_while(|t| *t < end)
        .take(86_400)
        .map(|t| t.timestamp_millis())
        .collect()
}

/// Most calls in any span of the window's length, given a day of `(moment ms, calls)` sorted
/// by moment: by sliding over the day (repeated once, so a span may wrap past midnight) for
/// windows up to a day, by whole days beyond.
fn busiest(calls: &[(i64, u64)], window: &RateWindow) -> u64 {
    const DAY_MS: i64 = 86_400_000;
    let span = window.period().as_millis() as i64;
    let day: u64 = calls.iter().map(|(_, n)| n).sum();
    if span >= DAY_MS {
        return day * ((span + DAY_MS - 1) / DAY_MS) as u64;
    }
    let doubled: Vec<(i64, u64)> = calls
        .iter()
        .copied()
        .chain(calls.iter().map(|(t, n)| (t + DAY_MS, *n)))
        .collect();
    let (mut most, mut sum, mut start) = (0, 0, 0);
    for end in 0..doubled.len() {
        sum += doubled[end].1;
        while doubled[end].0 - doubled[start].0 >= span {
            sum -= doubled[start].1;
            start += 1;
        }
        most = most.max(sum);
    }
    most.min(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinbeat_shared::ratelimit::RateSpec;

    fn window(spec: &str) -> RateWindow {
        RateSpec::parse(spec).unwrap().windows()[0]
    }

    #[test]
    fn the_busiest_span_counts_calls_at_the_worst_alignment() {
        // One call every 5 minutes for a day, and a burst of 10 at 01:00:30.
        let mut calls: Vec<(i64, u64)> = (0..288).map(|i| (i * 300_000, 1)).collect();
        assert_eq!(busiest(&calls, &window("30/min")), 1);
        assert_eq!(busiest(&calls, &window("30/5min")), 1);
        assert_eq!(busiest(&calls, &window("30/6min")), 2);
        assert_eq!(busiest(&calls, &window("30/h")), 12);
        assert_eq!(busiest(&calls, &window("30/day")), 288);
        assert_eq!(busiest(&calls, &window("10000/month")), 288 * 31);
        calls.push((3_630_000, 10));
        calls.sort_unstable();
        assert_eq!(
            busiest(&calls, &window("30/min")),
            11,
            "the 01:00 call and the burst"
        );
        assert_eq!(busiest(&calls, &window("30/day")), 298);
        assert_eq!(busiest(&[], &window("1/s")), 0);
    }

    #[test]
    fn the_default_table_is_far_over_a_free_coingecko_month() {
        let mut settings = Settings::default();
        settings.providers.coingecko.rate_limit = "30/min, 10000/month".into();
        let entries = crate::entry::parse_schedule(&settings).unwrap();
        let plan = plan(&settings, &entries, Utc::now());
        let month = plan
            .windows
            .iter()
            .find(|w| w.provider == Provider::CoinGecko && w.window.ends_with("month"))
            .unwrap();
        // prices: 1 call × 288 a day; market: (1 + 1 + 12) × 144; health: 1 × 288; the
        // catalogue: 21 once; all × 31 days.
        assert_eq!(month.needed, (288 + 14 * 144 + 288 + 21) * 31);
        assert!(!month.fits);
        // The busiest minute: the market (14) and prices (1) at a ten-minute tick; the daily
        // catalogue (21 calls, 4 s apart) runs where no other entry ticks.
        let minute = plan
            .windows
            .iter()
            .find(|w| w.provider == Provider::CoinGecko && w.window == "30/min")
            .unwrap();
        assert_eq!(minute.needed, 16, "{minute:?}");
        assert!(minute.fits);
        let market = plan.entries.iter().find(|e| e.entry == "market").unwrap();
        assert_eq!(market.calls[&Provider::CoinGecko], 14);
    }
}
