//! `coinbeat-api`: loads the settings, starts logging, serves the API until SIGINT or SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use coinbeat_shared::{Settings, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = std::env::var_os("COINBEAT_CONFIG").map(PathBuf::from);
    let settings = Settings::load(config.as_deref()).context("loading settings")?;
    telemetry::init("coinbeat-api", settings.telemetry.format);
    let shutdown = shutdown::on_signal();
    coinbeat_api::run(settings, shutdown)
        .await
        .context("serving the api")
}
