//! `coinbeat queues`: a snapshot of every queue, and which Redis holds it.

use std::process::ExitCode;

use coinbeat_shared::{jobs::Queue, queue::queue_stats};
use serde::Serialize;

use crate::output;

/// One queue's row: its stats and its Redis (`default`, or its own URL without the password).
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    stats: coinbeat_shared::queue::QueueStats,
    redis: String,
}

pub async fn queues(settings: &coinbeat_shared::Settings, json: bool) -> anyhow::Result<ExitCode> {
    let super::Connected { queues, keys, .. } = super::connect(settings).await?;
    let mut all = Vec::new();
    for queue in Queue::ALL {
        let name = queue.name();
        let stats = queue_stats(
            &queues.conn(&name),
            &keys,
            &name,
            &settings.queues.for_queue(&name),
        )
        .await?;
        let redis = queues.own_redis(&name).unwrap_or("default").to_owned();
        all.push(Row { stats, redis });
    }
    if json {
        output::json(&all);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>6} {:>11} {:>7}  redis",
        "queue", "waiting", "due", "delayed", "running", "done", "dead", "oldest", "workers"
    );
    for Row { stats: s, redis } in all {
        let oldest = s
            .oldest_waiting_ms
            .map_or("-".to_owned(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
        println!(
            "{:<8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>6} {:>11} {:>7}  {}",
            s.queue.as_str(),
            s.waiting,
            s.scheduled_due,
            s.scheduled_future,
            s.in_flight,
            s.done,
            s.dead,
            oldest,
            s.live_workers,
            redis
        );
    }
    Ok(ExitCode::SUCCESS)
}
