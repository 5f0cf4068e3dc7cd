//! `coinbeat run <component>`: one component in the foreground, as `coinbeat up` starts them.

use std::process::ExitCode;

use anyhow::Context;
use coinbeat_shared::{Settings, shutdown, telemetry};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::args::RunArgs;

pub async fn run(settings: Settings, args: RunArgs) -> anyhow::Result<ExitCode> {
    let component = args.component.as_str();
    telemetry::init(component, settings.telemetry.format);
    let stop = shutdown::on_signal();
    if args.stop_on_stdin_eof {
        stop_when_stdin_closes(stop.clone());
    }
    match component {
        "scheduler" => coinbeat_scheduler::run(settings, stop)
            .await
            .context("scheduler")?,
        "api" => coinbeat_api::run(settings, stop).await.context("api")?,
        worker => coinbeat_workers::registry::run(worker, settings, stop).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Cancels `stop` once standard input reaches its end (the parent closed it or died).
fn stop_when_stdin_closes(stop: CancellationToken) {
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        stop.cancel();
    });
}
