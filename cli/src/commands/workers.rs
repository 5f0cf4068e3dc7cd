//! `coinbeat workers`: every worker incarnation registered on every queue.

use std::process::ExitCode;

use coinbeat_shared::{jobs::Queue, queue::list_workers};

use crate::output;

pub async fn workers(settings: &coinbeat_shared::Settings, json: bool) -> anyhow::Result<ExitCode> {
    let super::Connected { queues, keys, .. } = super::connect(settings).await?;
    let mut all = Vec::new();
    for queue in Queue::ALL {
        let name = queue.name();
        all.extend(
            list_workers(
                &queues.conn(&name),
                &keys,
                &name,
                &settings.queues.for_queue(&name),
            )
            .await?,
        );
    }
    if json {
        output::json(&all);
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("no workers registered");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<40} {:<8} {:<16} {:>8} {:<26} {:>10} {:>8} {:<4}",
        "worker", "queue", "host", "pid", "started", "heartbeat", "running", "live"
    );
    let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    for w in all {
        println!(
            "{:<40} {:<8} {:<16} {:>8} {:<26} {:>10} {:>8} {:<4}",
            w.name,
            w.queue.as_str(),
            w.host.as_deref().unwrap_or("-"),
            w.pid.map_or("-".into(), |p| p.to_string()),
            output::time_ms(w.started_at),
            format!("{}s ago", now_ms.saturating_sub(w.last_heartbeat) / 1_000),
            w.in_flight,
            if w.live { "yes" } else { "no" },
        );
    }
    Ok(ExitCode::SUCCESS)
}
