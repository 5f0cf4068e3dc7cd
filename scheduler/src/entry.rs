//! A schedule entry parsed at start-up: its cron schedule (UTC) and the checked payload it
//! enqueues, plus the time arithmetic the beat and catch-up need.

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use coinbeat_shared::{
    Settings,
    jobs::Queue,
    settings::ScheduleEntry,
    submit::{self},
};
use serde_json::Value;

use crate::error::{EntryError, EntryProblem, SchedulerError};

/// The shortest an idempotency claim on a tick is held, so clock skew between replicas (or a
/// tick handled late) can never find the claim already expired.
const MIN_CLAIM_TTL: Duration = Duration::from_secs(3_600);
/// The longest a claim is held when the schedule's period allows it (see [`Entry::claim_ttl`]).
const MAX_CLAIM_TTL: Duration = Duration::from_secs(35 * 24 * 3_600);

/// An enabled schedule entry, checked: it fires, and its payload fits its kind.
#[derive(Debug, Clone)]
pub struct Entry {
    name: String,
    cron: String,
    schedule: cron::Schedule,
    kind: Queue,
    /// The payload as the kind's queue stores it (normalised by `submit::check_args`).
    payload: Value,
}

impl Entry {
    /// Checks one table entry: its name, its cron expression (6 fields, seconds first, or 7 with
    /// a year; evaluated in UTC) and its arguments against the kind's payload.
    pub fn parse(
        name: &str,
        spec: &ScheduleEntry,
        settings: &Settings,
    ) -> Result<Self, EntryError> {
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(EntryError::BadName);
        }
        let cron = spec.cron.trim().to_owned();
        let schedule = cron::Schedule::from_str(&cron).map_err(|e| EntryError::BadCron {
            cron: cron.clone(),
            reason: match cron.split_whitespace().count() {
                5 => format!(
                    "it has 5 fields (classic crontab); coinbeat's cron has a seconds field \
                     first, e.g. \"0 {cron}\""
                ),
                _ => e.to_string(),
            },
        })?;
        let payload =
            submit::check_args(spec.kind, &spec.args, settings).map_err(EntryError::BadArgs)?;
        let entry = Self {
            name: name.to_owned(),
            cron,
            schedule,
            kind: spec.kind,
            payload,
        };
        if entry.next_after(Utc::now()).is_none() {
            return Err(EntryError::NeverFires { cron: entry.cron });
        }
        Ok(entry)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cron expression as configured (trimmed).
    pub fn cron(&self) -> &str {
        &self.cron
    }

    pub fn schedule(&self) -> &cron::Schedule {
        &self.schedule
    }

    /// The job kind, which is also the queue the entry enqueues to.
    pub fn kind(&self) -> Queue {
        self.kind
    }

    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// The first scheduled time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&t).next()
    }

    /// The most recent scheduled time at or before `now` (a tick exactly at `now` counts).
    pub fn latest_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // `cron` searches backwards from strictly before a whole second, or from the instant
        // itself when it has a fraction; one nanosecond more makes a tick at `now` included.
        self.schedule
            .after(&(now + TimeDelta::nanoseconds(1)))
            .next_back()
    }

    /// How long the claim on the tick at `tick` is held: at least until the following tick has
    /// passed by as much again (twice the period), never under an hour, and at most 35 days
    /// unless the period itself is longer (then the period plus an hour). Catch-up only ever
    /// claims the latest tick, so a claim outliving the next tick is all that exactly-once needs.
    pub fn claim_ttl(&self, tick: DateTime<Utc>) -> Duration {
        let gap = self
            .next_after(tick)
            .and_then(|next| (next - tick).to_std().ok())
            .unwrap_or(MIN_CLAIM_TTL);
        let ttl = (gap * 2).max(MIN_CLAIM_TTL).min(MAX_CLAIM_TTL);
        if ttl > gap { ttl } else { gap + MIN_CLAIM_TTL }
    }
}

/// Parses and checks every enabled entry of the settings' schedule table, in name order.
/// Every invalid entry is reported, not just the first; disabled entries are not checked.
pub fn parse_schedule(settings: &Settings) -> Result<Vec<Entry>, SchedulerError> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (name, spec) in settings.schedule.iter().filter(|(_, s)| s.enabled) {
        match Entry::parse(name, spec, settings) {
            Ok(entry) => entries.push(entry),
            Err(error) => problems.push(EntryProblem {
                entry: name.clone(),
                error,
            }),
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(SchedulerError::InvalidSchedule { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn spec(cron: &str, kind: Queue, args: Value) -> ScheduleEntry {
        ScheduleEntry {
            cron: cron.into(),
            kind,
            args,
            enabled: true,
            tier: None,
        }
    }

    fn entry(cron: &str) -> Entry {
        Entry::parse(
            "e",
            &spec(cron, Queue::Prices, json!({})),
            &Settings::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_default_table_parses_into_prices_every_ten_minutes_and_the_tiers() {
        let mut settings = Settings::default();
        settings.prices.extend_schedule(&mut settings.schedule);
        let entries = parse_schedule(&settings).unwrap();
        let prices = entries.iter().find(|e| e.name() == "prices").unwrap();
        assert_eq!(prices.kind(), Queue::Prices);
        assert_eq!(prices.payload(), &json!({}));
        assert_eq!(
            prices.next_after(at("2025-01-01T10:07:30Z")),
            Some(at("2025-01-01T10:10:00Z"))
        );
        let major = entries.iter().find(|e| e.name() == "prices-major").unwrap();
        assert_eq!(major.payload(), &json!({"tier": "major"}));
        assert_eq!(
            major.next_after(at("2025-01-01T10:07:30Z")),
            Some(at("2025-01-01T10:08:05Z"))
        );
        let top = entries.iter().find(|e| e.name() == "prices-top").unwrap();
        assert_eq!(
            top.next_after(at("2025-01-01T10:07:30Z")),
            Some(at("2025-01-01T10:08:00Z"))
        );
    }

    #[test]
    fn the_latest_tick_at_or_before_now_includes_a_tick_exactly_at_now() {
        let e = entry("0 */5 * * * *");
        assert_eq!(
            e.latest_at_or_before(at("2025-01-01T10:07:30.250Z")),
            Some(at("2025-01-01T10:05:00Z"))
        );
        assert_eq!(
            e.latest_at_or_before(at("2025-01-01T10:05:00Z")),
            Some(at("2025-01-01T10:05:00Z"))
        );
        assert_eq!(
            e.latest_at_or_before(at("2025-01-01T10:04:59.999Z")),
            Some(at("2025-01-01T10:00:00Z"))
        );
        let every_second = entry("* * * * * *");
        assert_eq!(
            every_second.latest_at_or_before(at("2025-01-01T10:05:07.900Z")),
            Some(at("2025-01-01T10:05:07Z"))
        );
    }

    #[test]
    fn next_after_is_strictly_after() {
        let e = entry("*/2 * * * * *");
        assert_eq!(
            e.next_after(at("2025-01-01T10:00:02Z")),
            Some(at("2025-01-01T10:00:04Z"))
        );
        assert_eq!(
            e.next_after(at("2025-01-01T10:00:02.5Z")),
            Some(at("2025-01-01T10:00:04Z"))
        );
    }

    #[test]
    fn a_claim_outlives_the_next_tick_with_an_hour_floor_and_a_bound() {
        let hour = Duration::from_secs(3_600);
        let day = 24 * hour;
        let t = at("2025-01-01T02:00:00Z");
        assert_eq!(entry("* * * * * *").claim_ttl(t), hour);
        assert_eq!(entry("0 */5 * * * *").claim_ttl(t), hour);
        assert_eq!(entry("0 0 * * * *").claim_ttl(t), 2 * hour);
        assert_eq!(entry("0 0 2 * * *").claim_ttl(t), 2 * day);
        assert_eq!(
            entry("0 0 2 1 * *").claim_ttl(t),
            35 * day,
            "monthly: bounded"
        );
        assert_eq!(
            entry("0 0 2 1 1 *").claim_ttl(t),
            365 * day + hour,
            "yearly: past the bound, still longer than the period"
        );
    }

    #[test]
    fn seven_fields_with_a_year_and_shorthands_are_accepted() {
        assert!(
            entry("0 0 12 * * * 2099")
                .next_after(at("2025-01-01T00:00:00Z"))
                .is_some()
        );
        assert!(entry("@hourly").next_after(Utc::now()).is_some());
    }

    #[test]
    fn a_bad_cron_expression_names_the_entry_and_says_what_is_expected() {
        let mut settings = Settings::default();
        settings.schedule.insert(
            "market".into(),
            spec("*/5 * * * *", Queue::Market, json!({"limit": 100})),
        );
        settings.schedule.insert(
            "weird".into(),
            spec("every minute", Queue::Health, json!({})),
        );
        let err = parse_schedule(&settings).unwrap_err().to_string();
        assert!(err.contains("entry \"market\""), "{err}");
        assert!(err.contains("5 fields"), "{err}");
        assert!(err.contains("\"0 */5 * * * *\""), "{err}");
        assert!(
            err.contains("entry \"weird\""),
            "both problems reported: {err}"
        );
        assert!(
            !err.contains("\"prices\""),
            "the good entry is not blamed: {err}"
        );
    }

    #[test]
    fn bad_args_name_the_entry_and_the_problem() {
        let mut settings = Settings::default();
        settings.schedule.insert(
            "some-prices".into(),
            spec("0 * * * * *", Queue::Prices, json!({"symbols": ["NOPE"]})),
        );
        let err = parse_schedule(&settings).unwrap_err().to_string();
        assert!(err.contains("entry \"some-prices\""), "{err}");
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn a_schedule_that_never_fires_again_or_a_bad_name_is_refused() {
        let s = Settings::default();
        let err = Entry::parse(
            "old",
            &spec("0 0 0 1 1 * 2001", Queue::Health, json!({})),
            &s,
        )
        .unwrap_err();
        assert!(matches!(err, EntryError::NeverFires { .. }), "{err}");
        let err =
            Entry::parse("a:b", &spec("* * * * * *", Queue::Health, json!({})), &s).unwrap_err();
        assert!(matches!(err, EntryError::BadName), "{err}");
    }

    #[test]
    fn disabled_entries_are_neither_checked_nor_scheduled() {
        let mut settings = Settings::default();
        let mut off = spec("not a cron", Queue::Health, json!({}));
        off.enabled = false;
        settings.schedule.insert("off".into(), off);
        let entries = parse_schedule(&settings).unwrap();
        assert!(entries.iter().all(|e| e.name() != "off"));
    }
}
