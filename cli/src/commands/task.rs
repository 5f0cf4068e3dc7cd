//! `coinbeat task <id>`: everything known about one task.

use std::process::ExitCode;

use anyhow::Context;
use coinbeat_shared::queue::{TaskId, find_task};

use crate::output;

pub async fn task(
    settings: &coinbeat_shared::Settings,
    id: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let id: TaskId = id
        .parse()
        .with_context(|| format!("{id:?} is not a task id"))?;
    let super::Connected { queues, keys, .. } = super::connect(settings).await?;
    let found = find_task(&queues, &keys, id).await?;
    let Some(info) = found else {
        eprintln!("no task {id} in any queue (never enqueued, or pruned after its retention)");
        return Ok(ExitCode::FAILURE);
    };
    if json {
        output::json(&info);
    } else {
        let rows = [
            ("id", info.id.to_string()),
            ("queue", info.queue.to_string()),
            ("status", format!("{:?}", info.status).to_lowercase()),
            (
                "attempts",
                format!("{} of {}", info.attempts, info.max_attempts),
            ),
            ("enqueued", output::time_ms(info.enqueued_at)),
            ("run at", output::time_ms(info.run_at)),
            ("finished", output::time_ms(info.finished_at)),
            ("worker", info.worker.clone().unwrap_or_else(|| "-".into())),
            ("payload", info.payload.to_string()),
            (
                "result",
                info.result.as_ref().map_or("-".into(), |r| r.to_string()),
            ),
            (
                "error",
                info.last_error.clone().unwrap_or_else(|| "-".into()),
            ),
        ];
        for (name, value) in rows {
            println!("{name:>9}  {value}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
