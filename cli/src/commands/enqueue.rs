//! `coinbeat enqueue <kind>`: put one job on its queue now.

use std::process::ExitCode;

use anyhow::Context;
use coinbeat_shared::{
    jobs::Queue,
    queue::{EnqueueOptions, Producer},
    submit,
};
use serde_json::{Value, json};

use crate::{args::EnqueueArgs, output};

/// The job's arguments from `--args` or the kind's own flag; each flag fits one kind only.
fn job_args(args: &EnqueueArgs) -> anyhow::Result<Value> {
    if let Some(raw) = &args.args {
        return serde_json::from_str::<Value>(raw).context("--args is not valid JSON");
    }
    let kind = args.kind;
    let only = |flag: &str, fits: Queue| {
        anyhow::ensure!(kind == fits, "{flag} applies to {fits} jobs only");
        Ok(())
    };
    if !args.symbols.is_empty() {
        only("--symbols", Queue::Prices)?;
        return Ok(json!({ "symbols": args.symbols }));
    }
    if let Some(address) = &args.address {
        only("--address", Queue::Wallet)?;
        return Ok(json!({ "address": address }));
    }
    if let Some(limit) = args.limit {
        only("--limit", Queue::Market)?;
        return Ok(json!({ "limit": limit }));
    }
    Ok(json!({}))
}

pub async fn enqueue(
    settings: &coinbeat_shared::Settings,
    args: EnqueueArgs,
) -> anyhow::Result<ExitCode> {
    let job_args = job_args(&args)?;
    let super::Connected { queues, keys, .. } = super::connect(settings).await?;
    let producer = Producer::new(queues, keys, settings.queues.clone());
    let options = EnqueueOptions {
        idempotency_key: args.idempotency_key,
        ..Default::default()
    };
    let id = submit::submit(&producer, settings, args.kind, &job_args, options).await?;
    if args.json {
        output::json(&json!({ "id": id.to_string(), "queue": args.kind.as_str() }));
    } else {
        println!("enqueued task {id} on queue {}", args.kind);
        println!("follow it with: coinbeat task {id}");
    }
    Ok(ExitCode::SUCCESS)
}
