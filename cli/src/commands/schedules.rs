//! `coinbeat schedules`: the schedule table with each entry's last and next run.

use std::process::ExitCode;

use coinbeat_shared::schedule_state::read_schedule_record;
use serde_json::json;

use crate::output;

pub async fn schedules(
    settings: &coinbeat_shared::Settings,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (conn, keys) = super::connect(settings).await?;
    let mut rows = Vec::new();
    for (name, entry) in &settings.schedule {
        let record = read_schedule_record(&conn, &keys, name)
            .await?
            .unwrap_or_default();
        rows.push(json!({
            "name": name,
            "cron": entry.cron,
            "kind": entry.kind,
            "args": entry.args,
            "enabled": entry.enabled,
            "last_tick_ms": record.last_tick_ms,
            "last_task_id": record.last_task_id.map(|id| id.to_string()),
            "next_tick_ms": record.next_tick_ms,
        }));
    }
    if json {
        output::json(&rows);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<10} {:<18} {:<8} {:<8} {:<26} {:<26}",
        "entry", "cron", "kind", "enabled", "last run", "next run"
    );
    for row in rows {
        let ms = |v: &serde_json::Value| output::time_ms(v.as_i64().map(|ms| ms as u64));
        println!(
            "{:<10} {:<18} {:<8} {:<8} {:<26} {:<26}",
            row["name"].as_str().unwrap_or_default(),
            row["cron"].as_str().unwrap_or_default(),
            row["kind"].as_str().unwrap_or_default(),
            row["enabled"],
            ms(&row["last_tick_ms"]),
            ms(&row["next_tick_ms"]),
        );
    }
    Ok(ExitCode::SUCCESS)
}
