//! `coinbeat dead list|show|retry|purge`: a queue's dead letters.

use std::process::ExitCode;

use anyhow::Context;
use coinbeat_shared::{
    Settings,
    queue::{TaskId, dead_task, list_dead, purge_all_dead, purge_dead, retry_all_dead, retry_dead},
};
use serde_json::json;

use crate::{args::DeadCommand, output};

fn task_id(id: &str) -> anyhow::Result<TaskId> {
    id.parse()
        .with_context(|| format!("{id:?} is not a task id"))
}

pub async fn dead(settings: &Settings, command: DeadCommand) -> anyhow::Result<ExitCode> {
    let super::Connected { queues, keys, .. } = super::connect(settings).await?;
    match command {
        DeadCommand::List {
            queue,
            limit,
            offset,
            json,
        } => {
            let page = list_dead(
                &queues.conn(&queue.name()),
                &keys,
                &queue.name(),
                offset,
                limit.max(1),
            )
            .await?;
            if json {
                output::json(&page);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{} dead tasks in queue {queue}; showing {} from {}",
                page.total,
                page.tasks.len(),
                page.offset
            );
            if !page.tasks.is_empty() {
                println!("{:<26} {:>8} {:<26}  last error", "id", "attempts", "died");
            }
            for t in page.tasks {
                println!(
                    "{:<26} {:>8} {:<26}  {}",
                    t.id.to_string(),
                    format!("{}/{}", t.attempts, t.max_attempts),
                    output::time_ms(t.finished_at),
                    t.last_error.as_deref().unwrap_or("-"),
                );
            }
        }
        DeadCommand::Show { queue, id, json } => {
            let task = dead_task(
                &queues.conn(&queue.name()),
                &keys,
                &queue.name(),
                task_id(&id)?,
            )
            .await?;
            if json {
                output::json(&task);
                return Ok(ExitCode::SUCCESS);
            }
            let rows = [
                ("id", task.id.to_string()),
                ("queue", task.queue.to_string()),
                ("status", task.status.as_str().to_owned()),
                (
                    "attempts",
                    format!("{} of {}", task.attempts, task.max_attempts),
                ),
                ("enqueued", output::time_ms(task.enqueued_at)),
                ("died", output::time_ms(task.finished_at)),
                ("payload", task.payload.to_string()),
                ("error", task.last_error.unwrap_or_else(|| "-".into())),
            ];
            for (name, value) in rows {
                println!("{name:>9}  {value}");
            }
        }
        DeadCommand::Retry {
            queue,
            id,
            all: _,
            json,
        } => {
            let name = queue.name();
            match id {
                Some(id) => {
                    let id = task_id(&id)?;
                    retry_dead(&queues.conn(&name), &keys, &settings.queues, &name, id).await?;
                    if json {
                        output::json(&json!({ "queue": name, "id": id, "status": "pending" }));
                    } else {
                        println!("task {id} is back on queue {queue} with its attempts reset");
                    }
                }
                None => {
                    let report =
                        retry_all_dead(&queues.conn(&name), &keys, &settings.queues, &name).await?;
                    if json {
                        output::json(&json!({
                            "queue": name,
                            "retried": report.retried,
                            "discarded": report.discarded,
                        }));
                    } else {
                        println!("{} dead tasks are back on queue {queue}", report.retried);
                        if report.discarded > 0 {
                            println!(
                                "{} dead records without a payload were deleted",
                                report.discarded
                            );
                        }
                    }
                }
            }
        }
        DeadCommand::Purge {
            queue,
            id,
            all: _,
            yes,
            json,
        } => {
            let name = queue.name();
            match id {
                Some(id) => {
                    let id = task_id(&id)?;
                    purge_dead(&queues.conn(&name), &keys, &name, id).await?;
                    if json {
                        output::json(&json!({ "queue": name, "id": id, "purged": 1 }));
                    } else {
                        println!("dead task {id} deleted");
                    }
                }
                None if !yes => {
                    let total = list_dead(&queues.conn(&name), &keys, &name, 0, 1)
                        .await?
                        .total;
                    eprintln!(
                        "would delete {total} dead tasks of queue {queue}; nothing deleted: \
                         run again with --all --yes"
                    );
                    return Ok(ExitCode::FAILURE);
                }
                None => {
                    let n = purge_all_dead(&queues.conn(&name), &keys, &name).await?;
                    if json {
                        output::json(&json!({ "queue": name, "purged": n }));
                    } else {
                        println!("{n} dead tasks of queue {queue} deleted");
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
