//! `coinbeat plan`: what the schedule table costs each upstream in every window of its
//! configured limit (month windows included), and whether it fits; the calls one run of each
//! entry makes. Read from the settings alone: nothing is asked of Redis or an upstream.

use std::process::ExitCode;

use chrono::Utc;
use coinbeat_shared::plan::{PlanEntry, plan};

use crate::output;

pub fn plan_command(settings: &coinbeat_shared::Settings, json: bool) -> anyhow::Result<ExitCode> {
    let entries = PlanEntry::of_table(&settings.schedule);
    let plan = plan(settings, &entries, Utc::now());
    if json {
        output::json(&plan);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<12} {:<20} {:>10} {:>10} {:>10}  fits",
        "provider", "window", "needed", "limit", "wait"
    );
    for w in &plan.windows {
        let provider = serde_json::to_value(w.provider).expect("a provider serializes");
        let wait = w
            .longest_wait_ms
            .map_or_else(String::new, |ms| format!("{:.1}s", ms as f64 / 1_000.0));
        println!(
            "{:<12} {:<20} {:>10} {:>10} {:>10}  {}",
            provider.as_str().unwrap_or_default(),
            w.window,
            w.needed,
            w.limit,
            wait,
            if w.fits { "yes" } else { "NO" }
        );
    }
    println!();
    println!("{:<40} calls per run", "entry");
    for e in &plan.entries {
        let tier = settings
            .schedule
            .get(&e.entry)
            .and_then(|s| s.tier.as_ref());
        let stretched = tier.filter(|t| t.stretched).map_or_else(String::new, |t| {
            format!(
                "  (stretched: every {} s, configured {} s)",
                t.every_secs, t.configured_every_secs
            )
        });
        let calls: Vec<String> = e
            .calls
            .iter()
            .map(|(provider, n)| {
                let provider = serde_json::to_value(provider).expect("a provider serializes");
                format!("{} {n}", provider.as_str().unwrap_or_default())
            })
            .collect();
        println!("{:<40} {}{stretched}", e.entry, calls.join(", "));
    }
    let over = plan.over().count();
    if over > 0 {
        println!();
        println!(
            "{over} window(s) over their limit (or calls waiting longer than \
             upstream.max_permit_wait_ms for a permit): the beat refuses to start; lengthen \
             those entries' intervals, configure the plan's real limits, or set \
             plan.over_limits = \"stretch\" to slow the price tiers down"
        );
    }
    Ok(ExitCode::SUCCESS)
}
