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

pub async fn enqueue(
    settings: &coinbeat_shared::Settings,
    args: EnqueueArgs,
) -> anyhow::Result<ExitCode> {
    let job_args = match (&args.args, args.symbols.is_empty()) {
        (Some(raw), _) => serde_json::from_str::<Value>(raw).context("--args is not valid JSON")?,
        (None, false) if args.kind == Queue::Prices => json!({ "symbols": args.symbols }),
        (None, false) => anyhow::bail!("--symbols applies to prices jobs only"),
        (None, true) => json!({}),
    };
    let (conn, keys) = super::connect(settings).await?;
    let producer = Producer::new(conn, keys, settings.queues.clone());
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
