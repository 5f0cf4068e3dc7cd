//! `coinbeat-scheduler`: settings → telemetry → the beat until SIGINT or SIGTERM.
//! Settings come from `COINBEAT_CONFIG` (a TOML file, optional) and the environment.

use std::path::PathBuf;

use anyhow::Context;
use coinbeat_shared::{Settings, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = std::env::var_os("COINBEAT_CONFIG").map(PathBuf::from);
    let settings = Settings::load(config.as_deref()).context("loading settings")?;
    telemetry::init("coinbeat-scheduler", settings.telemetry.format);
    let stop = shutdown::on_signal();
    coinbeat_scheduler::run(settings, stop).await?;
    Ok(())
}
