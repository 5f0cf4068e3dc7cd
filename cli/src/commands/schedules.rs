//! `coinbeat schedules`: the schedule table with each entry's last run, its outcome, and the next run.

use std::process::ExitCode;

use coinbeat_shared::{
    schedule_control::read_pause, schedule_state::read_schedule_status,
    watched_wallets::effective_schedule,
};
use serde_json::json;

use crate::output;

pub async fn schedules(
    settings: &coinbeat_shared::Settings,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let super::Connected { conn, queues, keys } = super::connect(settings).await?;
    let table = effective_schedule(&conn, &keys, settings).await?;
    let mut rows = Vec::new();
    for (name, entry) in &table {
        let status = read_schedule_status(&conn, &queues, &keys, name, entry.kind).await?;
        let pause = read_pause(&conn, &keys, name).await?;
        let record = &status.record;
        let last_error = status.last_task.as_ref().and_then(|t| t.last_error.clone());
        rows.push(json!({
            "name": name,
            "cron": entry.cron,
            "kind": entry.kind,
            "args": entry.args,
            "enabled": entry.enabled,
            "tier": entry.tier,
            "paused": pause.is_paused(),
            "paused_ms": pause.paused_ms,
            "last_tick_ms": record.last_tick_ms,
            "last_task_id": record.last_task_id.map(|id| id.to_string()),
            "next_tick_ms": record.next_tick_ms,
            "last_outcome": status.last_outcome(),
            "last_error": last_error,
        }));
    }
    if json {
        output::json(&rows);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<14} {:<18} {:<8} {:<8} {:<7} {:<26} {:<8} {:<26}",
        "entry", "cron", "kind", "enabled", "paused", "last run", "outcome", "next run"
    );
    for row in rows {
        let ms = |v: &serde_json::Value| output::time_ms(v.as_i64().map(|ms| ms as u64));
        println!(
            "{:<14} {:<18} {:<8} {:<8} {:<7} {:<26} {:<8} {:<26}",
            row["name"].as_str().unwrap_or_default(),
            row["cron"].as_str().unwrap_or_default(),
            row["kind"].as_str().unwrap_or_default(),
            // A JSON value's Display ignores the width: pad its text.
            row["enabled"].to_string(),
            row["paused"].to_string(),
            ms(&row["last_tick_ms"]),
            row["last_outcome"].as_str().unwrap_or("-"),
            ms(&row["next_tick_ms"]),
        );
        let tier = &row["tier"];
        if tier["stretched"].as_bool() == Some(true) {
            println!(
                "{:<14} stretched to fit the rate limits: every {} s (configured {} s)",
                "", tier["every_secs"], tier["configured_every_secs"]
            );
        }
        if let Some(error) = row["last_error"].as_str() {
            println!("{:<14} last error: {error}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}
