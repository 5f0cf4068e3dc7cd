//! `coinbeat queues`: a snapshot of every queue.

use std::process::ExitCode;

use coinbeat_shared::{jobs::Queue, queue::queue_stats};

use crate::output;

pub async fn queues(settings: &coinbeat_shared::Settings, json: bool) -> anyhow::Result<ExitCode> {
    let (conn, keys) = super::connect(settings).await?;
    let mut all = Vec::new();
    for queue in Queue::ALL {
        let name = queue.name();
        all.push(queue_stats(&conn, &keys, &name, &settings.queues.for_queue(&name)).await?);
    }
    if json {
        output::json(&all);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>6} {:>11} {:>7}",
        "queue", "waiting", "due", "delayed", "running", "done", "dead", "oldest", "workers"
    );
    for s in all {
        let oldest = s
            .oldest_waiting_ms
            .map_or("-".to_owned(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
        println!(
            "{:<8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>6} {:>11} {:>7}",
            s.queue.as_str(),
            s.waiting,
            s.scheduled_due,
            s.scheduled_future,
            s.in_flight,
            s.done,
            s.dead,
            oldest,
            s.live_workers
        );
    }
    Ok(ExitCode::SUCCESS)
}
