//! `coinbeat run <component>`: one component in the foreground, as `coinbeat up` starts them.

use std::process::ExitCode;

use coinbeat_shared::{Settings, shutdown, telemetry};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::args::RunArgs;

pub async fn run(settings: Settings, args: RunArgs) -> anyhow::Result<ExitCode> {
    let component = args.component;
    telemetry::init(component.name(), settings.telemetry.format);
    let stop = shutdown::on_signal();
    if args.stop_on_stdin_eof {
        stop_when_stdin_closes(stop.clone());
    }
    component.run(settings, stop).await?;
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
