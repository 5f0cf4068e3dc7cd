//! The call plan: what the schedule table costs each upstream in every window of its
//! configured limit (`providers.<name>.rate_limit`, month windows included), so an operator sees
//! before anything runs whether the table fits the plan they pay for.
//!
//! Each entry's calls per run come from its job kind and arguments (a prices job: one
//! `/simple/price` call per `max_ids_per_request` coins; a market job: its pages, `/global` and,
//! with `supply`, one `/coins/{id}` per tracked coin; the catalogue: `/coins/list` and its rank
//! pages; a health job: one probe per provider, CoinGecko's at most every
//! `health.coingecko_probe_secs`). A price tier's run (`{"tier": ..}`) costs what its source
//! needs for the tier's ranks, an open tier taken to end at `catalogue.expected_coins`:
//! CoinLore's pages covering them, one Binance `/ticker/24hr` of every pair (weight 80) plus the
//! CoinLore pages for the coins Binance lacks, or CoinGecko's batches.
//!
//! Every run's calls then go through a model of the provider's shared limiter over two days of
//! ticks (the first fills the queue as it would be, the second is measured): one permit per the
//! shortest window's gap, a run's calls one after another, overlapping runs waiting their turn.
//! Each window's busiest span of the measured day is set against its limit (a day's total times
//! the days for longer windows), and the longest wait for a permit against
//! `upstream.max_permit_wait_ms`. Fallback calls (Binance for prices, CoinLore for markets)
//! happen only when the primary fails and are not counted; on-demand jobs come on top of the
//! plan. [`stretch_tiers`] lengthens tier intervals until the table fits, for
//! `plan.over_limits = "stretch"`.

use std::{collections::BTreeMap, str::FromStr};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{
    Settings,
    jobs::{MarketJob, PricesJob, Queue, RatesJob},
    ratelimit::{Provider, RateWindow},
    settings::{
        ALCHEMY_SYMBOLS_PER_CALL, COINCAP_IDS_PER_CALL, PriceSource, ScheduleTable,
        tiers::{self, TierSource},
    },
};

/// One schedule entry as the plan sees it.
#[derive(Debug, Clone)]
pub struct PlanEntry<'a> {
    pub name: &'a str,
    pub kind: Queue,
    pub payload: &'a Value,
    pub schedule: cron::Schedule,
}

impl<'a> PlanEntry<'a> {
    /// The enabled entries of `table` whose cron parses (the beat refuses the others anyway).
    pub fn of_table(table: &'a ScheduleTable) -> Vec<Self> {
        table
            .iter()
            .filter(|(_, entry)| entry.enabled)
            .filter_map(|(name, entry)| {
                Some(Self {
                    name,
                    kind: entry.kind,
                    payload: &entry.args,
                    schedule: cron::Schedule::from_str(entry.cron.trim()).ok()?,
                })
            })
            .collect()
    }
}

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
    /// The shortest window only: the longest a call waits for the limiter's permit when runs
    /// overlap (more than `upstream.max_permit_wait_ms` does not fit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longest_wait_ms: Option<u64>,
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
pub fn plan(settings: &Settings, entries: &[PlanEntry<'_>], from: DateTime<Utc>) -> Plan {
    let costs: Vec<(EntryCalls, Queue, Vec<i64>)> = entries
        .iter()
        .map(|entry| {
            let calls = EntryCalls {
                entry: entry.name.to_owned(),
                calls: calls_per_run(settings, entry.kind, entry.payload),
            };
            (calls, entry.kind, ticks_in_two_days(&entry.schedule, from))
        })
        .collect();
    let mut windows = Vec::new();
    for provider in Provider::ALL {
        let Ok(spec) = settings.providers.rate_spec(provider) else {
            continue;
        };
        // The limiter serves one permit per `gap` (the shortest window's period over its
        // limit): a run's calls go out one after another, each as soon as the limiter serves
        // the one before (the catalogue waits twice the gap between its own pages), and runs
        // that overlap share the limiter, each call waiting its turn.
        let gap_ms = spec.windows().first().map_or(0, |w| {
            w.period().as_millis() as i64 / i64::from(w.limit()).max(1)
        });
        let mut runs: Vec<Run> = Vec::new();
        for (entry, kind, ticks) in &costs {
            let Some(&per_run) = entry.calls.get(&provider) else {
                continue;
            };
            // Health asks CoinGecko at most every `coingecko_probe_secs`.
            let spacing_ms = match (kind, provider) {
                (Queue::Health, Provider::CoinGecko) => {
                    settings.health.coingecko_probe_secs as i64 * 1_000
                }
                _ => 0,
            };
            // Binance counts request weight: a run is one request of its whole weight.
            let (count, weight) = match provider {
                Provider::Binance => (1, per_run),
                _ => (per_run, 1),
            };
            let own_pace_ms = if *kind == Queue::Catalogue {
                2 * gap_ms
            } else {
                0
            };
            let mut last_counted = i64::MIN;
            for &tick in ticks {
                if spacing_ms > 0 {
                    if last_counted != i64::MIN && tick - last_counted < spacing_ms {
                        continue;
                    }
                    last_counted = tick;
                }
                runs.push(Run {
                    next_ms: tick,
                    left: count,
                    weight,
                    own_pace_ms,
                });
            }
        }
        let (served, longest_wait_ms) = serve(runs, gap_ms);
        // The second day, as a day from 0 (calls still queued at its end are left out: the
        // first day's spill into it stands for them).
        let second = from.timestamp_millis() + DAY_MS;
        let calls: Vec<(i64, u64)> = served
            .into_iter()
            .filter(|(at, _)| (second..second + DAY_MS).contains(at))
            .map(|(at, n)| (at - second, n))
            .collect();
        let max_wait_ms = settings.upstream.max_permit_wait_ms;
        for (index, window) in spec.windows().iter().enumerate() {
            let needed = busiest(&calls, window);
            // The shortest window is the limiter's pace: it always holds, and it is over when
            // a call would wait longer for its permit than `upstream.max_permit_wait_ms`.
            let waits = (index == 0).then_some(longest_wait_ms);
            windows.push(WindowUse {
                provider,
                window: window.to_string(),
                limit: u64::from(window.limit()),
                needed,
                longest_wait_ms: waits,
                fits: needed <= u64::from(window.limit())
                    && waits.is_none_or(|ms| ms <= max_wait_ms),
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
            if let Some(tier) = job.tier.as_ref().and_then(|t| settings.prices.tiers.get(t)) {
                let listed = settings.catalogue.expected_coins;
                let pages = tier.coinlore_pages(listed).len() as u64;
                match tier.source {
                    TierSource::Binance => {
                        calls.insert(Provider::Binance, u64::from(ALL_TICKERS_WEIGHT));
                        calls.insert(Provider::CoinLore, pages);
                    }
                    TierSource::Coinlore => {
                        calls.insert(Provider::CoinLore, pages);
                    }
                    TierSource::Coingecko => {
                        calls.insert(
                            Provider::CoinGecko,
                            u64::from(tier.size(listed)).div_ceil(per_call),
                        );
                    }
                }
                return calls;
            }
            let coins = job
                .ids
                .map(|ids| ids.len())
                .or(job.symbols.map(|s| s.len()))
                .map_or(tracked, |n| n as u64);
            // The chain's first link is asked for every coin; the others only for what it
            // could not price, which a plan cannot foresee.
            match settings.prices.providers.first() {
                Some(PriceSource::CoinGecko) | None => {
                    calls.insert(Provider::CoinGecko, coins.div_ceil(per_call));
                }
                Some(PriceSource::Alchemy) => {
                    calls.insert(Provider::Alchemy, coins.div_ceil(ALCHEMY_SYMBOLS_PER_CALL));
                }
                Some(PriceSource::CoinCap) => {
                    calls.insert(Provider::CoinCap, coins.div_ceil(COINCAP_IDS_PER_CALL));
                }
                // One `/ticker/24hr` of the pairs.
                Some(PriceSource::Binance) => {
                    let weight = ticker_24h_weight(coins as usize);
                    calls.insert(Provider::Binance, u64::from(weight));
                }
            }
        }
        Queue::Market => {
            let (limit, supply) = serde_json::from_value::<MarketJob>(payload.clone())
                .map_or((u64::from(MarketJob::DEFAULT_LIMIT), true), |job| {
                    (u64::from(job.limit), job.supply)
                });
            // Pages of 250, `/global`, one `/coins/{id}` per tracked coin's supply.
            let supply = if supply { tracked } else { 0 };
            calls.insert(Provider::CoinGecko, limit.div_ceil(250) + 1 + supply);
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
            // The price chain's keyed links are probed when they have their key.
            for source in &settings.prices.providers {
                let provider = source.provider();
                if matches!(source, PriceSource::Alchemy | PriceSource::CoinCap)
                    && providers.has_key(provider)
                {
                    calls.insert(provider, 1);
                }
            }
        }
        // A balance, then at least one page of each list.
        Queue::Wallet => {
            calls.insert(Provider::Etherscan, 3);
        }
        // One `CURRENCY_EXCHANGE_RATE` call per currency.
        Queue::Rates => {
            let currencies = serde_json::from_value::<RatesJob>(payload.clone())
                .ok()
                .and_then(|job| job.currencies)
                .map_or(settings.rates.currencies.len(), |c| c.len());
            calls.insert(Provider::AlphaVantage, currencies as u64);
        }
        // A snapshot stores what the cache holds: no upstream call.
        // An alert's delivery calls its owner's webhook, no upstream.
        Queue::Cleanup | Queue::History | Queue::Alerts => {}
    }
    calls
}

/// One run's calls to one provider, as the limiter serves them.
#[derive(Debug)]
struct Run {
    /// When its next call asks for a permit.
    next_ms: i64,
    left: u64,
    /// Permits each call takes.
    weight: u64,
    /// Least time between its own calls (beyond the limiter's pace).
    own_pace_ms: i64,
}

/// Serves `runs` through a limiter giving one permit per `gap_ms`, first asked first served:
/// every call's `(moment served, permits)`, sorted, and the longest any call waited.
fn serve(runs: Vec<Run>, gap_ms: i64) -> (Vec<(i64, u64)>, u64) {
    use std::{cmp::Reverse, collections::BinaryHeap};
    let mut queue: BinaryHeap<Reverse<(i64, usize)>> = runs
        .iter()
        .enumerate()
        .filter(|(_, run)| run.left > 0)
        .map(|(i, run)| Reverse((run.next_ms, i)))
        .collect();
    let mut runs = runs;
    let (mut free_at, mut longest) = (i64::MIN, 0_u64);
    let mut served = Vec::new();
    while let Some(Reverse((asked, i))) = queue.pop() {
        let run = &mut runs[i];
        let at = asked.max(free_at);
        longest = longest.max((at - asked) as u64);
        free_at = at + gap_ms * run.weight as i64;
        served.push((at, run.weight));
        run.left -= 1;
        if run.left > 0 {
            run.next_ms = free_at.max(at + run.own_pace_ms);
            queue.push(Reverse((run.next_ms, i)));
        }
    }
    served.sort_unstable();
    (served, longest)
}

const DAY_MS: i64 = 86_400_000;

/// Binance's weight for `/ticker/24hr` of every pair.
pub const ALL_TICKERS_WEIGHT: u32 = 80;

/// Binance's `/api/v3/ticker/24hr` weight for `symbols` pairs, as documented: 2 for 1 to 20,
/// 40 up to 100, [`ALL_TICKERS_WEIGHT`] above.
pub fn ticker_24h_weight(symbols: usize) -> u32 {
    match symbols {
        0..=20 => 2,
        21..=100 => 40,
        _ => ALL_TICKERS_WEIGHT,
    }
}

/// Lengthens the intervals of the tier entries in `table` (`prices-<tier>`, made by
/// `PricesSettings::extend_schedule`) until the table's plan fits every window, or no tier
/// that uses an over provider can slow down further: one step of [`tiers::INTERVALS`] at a
/// time, the tier spending the most of that provider's calls a day first. Returns whether the
/// table fits now.
pub fn stretch_tiers(settings: &Settings, table: &mut ScheduleTable, from: DateTime<Utc>) -> bool {
    loop {
        let (over, costs) = {
            let entries = PlanEntry::of_table(table);
            let plan = plan(settings, &entries, from);
            let over: Vec<Provider> = plan.over().map(|w| w.provider).collect();
            (over, plan.entries)
        };
        if over.is_empty() {
            return true;
        }
        // The tier with the most calls a day to a provider that is over.
        let heaviest = costs
            .iter()
            .filter_map(|calls| {
                let tier = table.get(&calls.entry)?.tier.as_ref()?;
                let per_run: u64 = over.iter().filter_map(|p| calls.calls.get(p)).sum();
                let runs_a_day = 86_400 / tier.every_secs.max(1);
                (per_run > 0 && tier.every_secs < 86_400)
                    .then_some((per_run * runs_a_day, calls.entry.clone()))
            })
            .max();
        let Some((_, name)) = heaviest else {
            return false;
        };
        let entry = table.get_mut(&name).expect("found above");
        let tier = entry.tier.as_mut().expect("a tier's entry");
        let every = tiers::interval_at_least(tier.every_secs + 1);
        tier.every_secs = every;
        tier.stretched = true;
        entry.cron = tiers::cron_every(every, tier.offset_secs);
    }
}

/// The entry's ticks in the two days from `from` (unix ms), at most one a second: the first
/// day fills the limiter's queue as it would be, the second is the one measured.
fn ticks_in_two_days(schedule: &cron::Schedule, from: DateTime<Utc>) -> Vec<i64> {
    let end = from + TimeDelta::days(2);
    schedule
        .after(&from)
        .take_while(|t| *t < end)
        .take(2 * 86_400)
        .map(|t| t.timestamp_millis())
        .collect()
}

/// Most calls in any span of the window's length, given a day of `(moment ms, calls)` sorted
/// by moment: by sliding over the day (repeated once, so a span may wrap past midnight) for
/// windows up to a day, by whole days beyond.
fn busiest(calls: &[(i64, u64)], window: &RateWindow) -> u64 {
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
    use crate::ratelimit::RateSpec;

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

    /// The built-in table with the default tiers, as `Settings::load` makes it.
    fn default_table() -> Settings {
        let mut settings = Settings::default();
        settings.prices.extend_schedule(&mut settings.schedule);
        settings
    }

    fn window_of<'a>(plan: &'a Plan, provider: Provider, window: &str) -> &'a WindowUse {
        plan.windows
            .iter()
            .find(|w| w.provider == provider && w.window == window)
            .unwrap_or_else(|| panic!("no {provider} {window} in {:?}", plan.windows))
    }

    #[test]
    fn the_default_table_fits_a_free_coingecko_month_and_about_one_coinlore_call_a_second() {
        let settings = default_table();
        assert_eq!(
            settings.providers.coingecko.rate_limit,
            "30/min, 10000/month"
        );
        let entries = PlanEntry::of_table(&settings.schedule);
        let plan = plan(&settings, &entries, Utc::now());
        assert_eq!(plan.over().count(), 0, "{:?}", plan.windows);
        // prices: 1 call x 144 a day; market: (1 page + /global) x 24; supply: 14 once;
        // the catalogue: 21 once; health: CoinGecko hourly, 24; all x 31 days.
        let month = window_of(&plan, Provider::CoinGecko, "10000/month");
        assert_eq!(month.needed, (144 + 2 * 24 + 14 + 21 + 24) * 31);
        // The busiest minute: 15 of the daily catalogue's 21 pages, 4 s apart, where nothing
        // else calls.
        assert_eq!(window_of(&plan, Provider::CoinGecko, "30/min").needed, 15);
        // The tiers: top's CoinLore page every 30 s, major's 9 pages every 2 minutes, minor's
        // 40 every 10, rest's 100 (to 15,000 coins) hourly; no second holds two of a tier's
        // ticks, and the limiter spreads a run's pages one a second.
        let tiers: u64 = ["prices-top", "prices-major", "prices-minor", "prices-rest"]
            .iter()
            .map(|name| {
                let entry = plan.entries.iter().find(|e| e.entry == *name).unwrap();
                entry.calls[&Provider::CoinLore]
            })
            .sum();
        assert_eq!(tiers, 1 + 9 + 40 + 100);
        let top = plan
            .entries
            .iter()
            .find(|e| e.entry == "prices-top")
            .unwrap();
        assert_eq!(top.calls[&Provider::Binance], 80);
        assert!(!top.calls.contains_key(&Provider::CoinGecko));
    }

    #[test]
    fn the_default_table_fits_whatever_the_time_it_is_planned_at() {
        let settings = default_table();
        let entries = PlanEntry::of_table(&settings.schedule);
        let midnight = DateTime::parse_from_rfc3339("2026-12-05T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for minutes in (0..24 * 60).step_by(47) {
            let from = midnight + TimeDelta::minutes(minutes) + TimeDelta::seconds(44);
            let plan = plan(&settings, &entries, from);
            assert_eq!(plan.over().count(), 0, "at {from}: {:?}", plan.windows);
            let coinlore = window_of(&plan, Provider::CoinLore, "1/s");
            assert_eq!(coinlore.needed, 1, "at {from}: {coinlore:?}");
        }
    }

    #[test]
    fn a_table_over_its_limits_is_stretched_only_in_its_tiers_until_it_fits() {
        let mut settings = default_table();
        // A tier of CoinGecko calls every 30 s.
        settings.prices.tiers.get_mut("minor").unwrap().source = TierSource::Coingecko;
        settings.prices.tiers.get_mut("minor").unwrap().every_secs = 30;
        settings
            .schedule
            .retain(|name, _| !name.starts_with("prices-"));
        settings.prices.extend_schedule(&mut settings.schedule);
        let entries = PlanEntry::of_table(&settings.schedule);
        let before = plan(&settings, &entries, Utc::now());
        let month = window_of(&before, Provider::CoinGecko, "10000/month");
        assert!(!month.fits && month.needed > 1_000_000, "{month:?}");

        let mut table = settings.schedule.clone();
        assert!(stretch_tiers(&settings, &mut table, Utc::now()));
        let minor = table["prices-minor"].tier.as_ref().unwrap();
        assert!(minor.stretched, "{minor:?}");
        assert_eq!(minor.configured_every_secs, 30);
        // The rest of the table takes 251 calls a day of the 322 a month allows; a run of the
        // tier is 16 batches (4,000 coins at 250): every 6 hours (4 runs, 9,765 a month) fits,
        // every 3 (8 runs, 11,749) would not.
        assert_eq!(minor.every_secs, 21_600, "{minor:?}");
        assert_eq!(
            table["prices-minor"].cron,
            tiers::cron_every(21_600, minor.offset_secs)
        );
        // The other tiers and entries are as they were.
        assert!(!table["prices-top"].tier.as_ref().unwrap().stretched);
        assert_eq!(table["market"], settings.schedule["market"]);
        let entries = PlanEntry::of_table(&table);
        let after = plan(&settings, &entries, Utc::now());
        assert_eq!(after.over().count(), 0, "{after:#?}");

        // Stretching cannot help a table whose fixed entries are over on their own.
        settings.schedule.get_mut("market").unwrap().cron = "*/10 * * * * *".into();
        let mut table = settings.schedule.clone();
        assert!(!stretch_tiers(&settings, &mut table, Utc::now()));
    }
}
