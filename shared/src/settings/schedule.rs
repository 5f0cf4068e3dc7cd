//! The schedule table the beat turns into jobs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jobs::Queue;

/// One schedule entry: a cron expression (six fields, seconds first) and the job it enqueues.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// e.g. `0 */5 * * * *` (every five minutes, at second 0). Evaluated in UTC.
    pub cron: String,
    /// The queue (and so the job kind) the entry enqueues to.
    pub kind: Queue,
    /// The job's arguments, checked against the kind's payload at start-up.
    #[serde(default = "empty_args")]
    pub args: serde_json::Value,
    /// A disabled entry is kept in the table but never enqueues.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Set on the entries made from `[prices.tiers]` (never read from a file).
    #[serde(skip)]
    pub tier: Option<TierEntry>,
}

/// What a tier's entry was made from, and whether the plan check stretched it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierEntry {
    pub tier: String,
    /// Seconds between ticks as scheduled.
    pub every_secs: u64,
    /// As configured; larger `every_secs` means the plan check stretched it to fit the limits.
    pub configured_every_secs: u64,
    /// Whether the plan check lengthened it (`plan.over_limits = "stretch"`).
    pub stretched: bool,
    /// Seconds past the minute the entry ticks at (intervals of a minute or more).
    #[serde(skip)]
    pub offset_secs: u64,
}

fn empty_args() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

fn enabled() -> bool {
    true
}

/// Entry name → entry. The name is part of the Redis keys that record its runs.
pub type ScheduleTable = BTreeMap<String, ScheduleEntry>;

/// The built-in table, sized for a free CoinGecko key (10,000 calls a month; `coinbeat plan`
/// shows 7,781, leaving about 70 a day for on-demand jobs): the tracked coins' prices every 10
/// minutes (their freshness window; the stream-worker keeps them live in between, and every
/// other catalogued coin is priced by its rank tier from Binance and CoinLore,
/// `[prices.tiers]`), health every five minutes (CoinGecko asked hourly), the top-100 markets
/// hourly, the tracked coins' supply figures daily, cleanup daily at 02:00 UTC, and the coin
/// catalogue daily at 03:47 UTC (and, like every entry, at the very first start).
pub fn default_schedule() -> ScheduleTable {
    let entry = |cron: &str, kind| ScheduleEntry {
        cron: cron.into(),
        kind,
        args: empty_args(),
        enabled: true,
        tier: None,
    };
    let market = |cron: &str, supply: bool| ScheduleEntry {
        args: serde_json::json!({
            "limit": crate::jobs::MarketJob::DEFAULT_LIMIT,
            "supply": supply,
        }),
        ..entry(cron, Queue::Market)
    };
    BTreeMap::from([
        ("prices".to_owned(), entry("0 */10 * * * *", Queue::Prices)),
        ("health".to_owned(), entry("30 */5 * * * *", Queue::Health)),
        ("market".to_owned(), market("0 0 * * * *", false)),
        // Supplies move slowly; 14 calls (the page, `/global`, one per tracked coin).
        ("supply".to_owned(), market("0 17 4 * * *", true)),
        ("cleanup".to_owned(), entry("0 0 2 * * *", Queue::Cleanup)),
        (
            "catalogue".to_owned(),
            // Clear of every other entry's CoinGecko calls: its 21 paced calls never share a
            // minute with the supply job's 14.
            entry("0 47 3 * * *", Queue::Catalogue),
        ),
    ])
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed by figment.
mod tests {
    use std::path::Path;

    use figment::Jail;

    use crate::{Settings, jobs::Queue, submit::check_args};

    /// The README's refresh tiers: two entries of one kind, each with its own arguments.
    #[test]
    fn refresh_tiers_are_entries_with_their_own_arguments() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "tiers.toml",
                r#"
                [schedule.prices-top]
                cron = "*/30 * * * * *"
                kind = "prices"
                args = { symbols = ["btc", "ETH", "SOL"] }

                [schedule.prices]
                cron = "0 */5 * * * *"
                kind = "prices"
                "#,
            )?;
            let s = Settings::load(Some(Path::new("tiers.toml"))).expect("loads");
            let top = &s.schedule["prices-top"];
            assert_eq!(
                (top.cron.as_str(), top.kind),
                ("*/30 * * * * *", Queue::Prices)
            );
            let args = check_args(top.kind, &top.args, &s).expect("valid args");
            assert_eq!(
                args,
                serde_json::json!({ "symbols": ["BTC", "ETH", "SOL"] })
            );
            let rest = &s.schedule["prices"];
            assert_eq!(rest.cron, "0 */5 * * * *");
            assert_eq!(
                check_args(rest.kind, &rest.args, &s).unwrap(),
                serde_json::json!({})
            );
            // The other default entries are still there.
            assert!(s.schedule.contains_key("market") && s.schedule.contains_key("cleanup"));
            Ok(())
        });
    }
}
