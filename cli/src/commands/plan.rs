//! `coinbeat plan`: what the schedule table costs each upstream in every window of its
//! configured limit (month windows included), and whether it fits; the calls one run of each
//! entry makes. Read from the settings alone: nothing is asked of Redis or an upstream.

use std::process::ExitCode;

use chrono::Utc;
use coinbeat_scheduler::{entry::parse_schedule, plan::plan};

use crate::output;

pub fn plan_command(settings: &coinbeat_shared::Settings, json: bool) -> anyhow::Result<ExitCode> {
    let entries = parse_schedule(settings)?;
    let plan = plan(settings, &entries, Utc::now());
    if json {
        output::json(&plan);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<10} {:<14} {:>10} {:>10}  fits",
        "provider", "window", "needed", "limit"
    );
    for w in &plan.windows {
        let provider = serde_json::to_value(w.provider).expect("a provider serializes");
        println!(
            "{:<10} {:<14} {:>10} {:>10}  {}",
            provider.as_str().unwrap_or_default(),
            w.window,
            w.needed,
            w.limit,
            if w.fits { "yes" } else { "NO" }
        );
    }
    println!();
    println!("{:<40} calls per run", "entry");
    for e in &plan.entries {
        let calls: Vec<String> = e
            .calls
            .iter()
            .map(|(provider, n)| {
                let provider = serde_json::to_value(provider).expect("a provider serializes");
                format!("{} {n}", provider.as_str().unwrap_or_default())
            })
            .collect();
        println!("{:<40} {}", e.entry, calls.join(", "));
    }
    let over = plan.over().count();
    if over > 0 {
        println!();
        println!(
            "{over} window(s) over their limit: the upstream would refuse calls (429) before such \
             a window ends; lengthen those entries' intervals, or configure the plan's real limits"
        );
    }
    Ok(ExitCode::SUCCESS)
}
