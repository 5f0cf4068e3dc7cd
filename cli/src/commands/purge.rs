//! `coinbeat purge <queue>`: delete a queue's waiting tasks (never the ones a worker holds).

use std::process::ExitCode;

use coinbeat_shared::queue::{purge_waiting, queue_stats};
use serde_json::json;

use crate::{args::PurgeArgs, output};

pub async fn purge(
    settings: &coinbeat_shared::Settings,
    args: PurgeArgs,
) -> anyhow::Result<ExitCode> {
    let super::Connected { queues, keys, .. } = super::connect(settings).await?;
    let queue = args.queue.name();
    if !args.yes {
        let stats = queue_stats(
            &queues.conn(&queue),
            &keys,
            &queue,
            &settings.queues.for_queue(&queue),
        )
        .await?;
        let delayed = stats.scheduled_due + stats.scheduled_future;
        if args.json {
            output::json(&json!({
                "queue": queue,
                "deleted": false,
                "waiting": stats.waiting,
                "delayed": delayed,
            }));
        }
        eprintln!(
            "would delete {} waiting and {delayed} delayed tasks of queue {queue} \
             ({} in flight would run on); nothing deleted: run again with --yes",
            stats.waiting, stats.in_flight
        );
        return Ok(ExitCode::FAILURE);
    }
    let report = purge_waiting(&queues.conn(&queue), &keys, &queue).await?;
    if args.json {
        output::json(&json!({
            "queue": report.queue,
            "deleted": true,
            "waiting": report.waiting,
            "delayed": report.delayed,
        }));
    } else {
        println!(
            "deleted {} waiting and {} delayed tasks of queue {queue}",
            report.waiting, report.delayed
        );
    }
    Ok(ExitCode::SUCCESS)
}
