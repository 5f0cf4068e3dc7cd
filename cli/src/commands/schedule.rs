//! `coinbeat schedule pause|resume|run|history <entry>`: an operator's hand on one entry.

use std::process::ExitCode;

use coinbeat_shared::{
    Settings,
    queue::Producer,
    schedule_control::{PauseState, find_entry, pause, resume, run_now},
    schedule_history::read_history,
};
use serde_json::json;

use crate::{args::ScheduleCommand, output};

pub async fn schedule(settings: &Settings, command: ScheduleCommand) -> anyhow::Result<ExitCode> {
    let super::Connected { conn, queues, keys } = super::connect(settings).await?;
    match command {
        ScheduleCommand::Pause { entry, json } => {
            let state = pause(&conn, &keys, settings, &entry).await?;
            show_pause(&entry, state, json);
        }
        ScheduleCommand::Resume { entry, json } => {
            let state = resume(&conn, &keys, settings, &entry).await?;
            show_pause(&entry, state, json);
        }
        ScheduleCommand::Run { entry, json } => {
            let producer = Producer::new(queues.clone(), keys.clone(), settings.queues.clone());
            let run = run_now(&producer, &conn, &keys, settings, &entry).await?;
            let queue = find_entry(settings, &entry)?.kind;
            if json {
                output::json(&json!({
                    "entry": entry,
                    "queue": queue,
                    "task_id": run.task_id,
                    "trigger": run.trigger,
                }));
            } else {
                println!(
                    "enqueued task {} on queue {queue} for entry {entry}",
                    run.task_id
                );
                println!("follow it with: coinbeat task {}", run.task_id);
            }
        }
        ScheduleCommand::History { entry, limit, json } => {
            let queue = find_entry(settings, &entry)?.kind;
            let history = read_history(&conn, &queues, &keys, &entry, queue, limit).await?;
            let rows: Vec<_> = history
                .iter()
                .map(|h| {
                    json!({
                        "tick_ms": h.run.tick_ms,
                        "task_id": h.run.task_id,
                        "trigger": h.run.trigger,
                        "enqueued_ms": h.run.enqueued_ms,
                        "outcome": h.outcome(),
                        "finished_ms": h.task.as_ref().and_then(|t| t.finished_at),
                        "last_error": h.task.as_ref().and_then(|t| t.last_error.clone()),
                    })
                })
                .collect();
            if json {
                output::json(&rows);
                return Ok(ExitCode::SUCCESS);
            }
            if history.is_empty() {
                println!("no runs of {entry} recorded");
            } else {
                println!("{:<26} {:<9} {:<26} outcome", "tick", "trigger", "task");
            }
            for h in history {
                println!(
                    "{:<26} {:<9} {:<26} {}",
                    output::time_ms(u64::try_from(h.run.tick_ms).ok()),
                    h.run.trigger.as_str(),
                    h.run.task_id.to_string(),
                    h.outcome(),
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_pause(entry: &str, state: PauseState, json: bool) {
    if json {
        output::json(&json!({
            "entry": entry,
            "paused": state.is_paused(),
            "paused_ms": state.paused_ms,
            "resumed_ms": state.resumed_ms,
        }));
    } else if state.is_paused() {
        println!(
            "{entry} is paused (since {})",
            output::time_ms(state.paused_ms.and_then(|ms| u64::try_from(ms).ok()))
        );
    } else {
        println!("{entry} runs on its schedule");
    }
}
