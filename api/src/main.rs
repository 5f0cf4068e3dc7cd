//! `coinbeat-api`: the service command line (`run`, `healthcheck`, `--check-config`), then
//! logging, then the API until SIGINT or SIGTERM.

use anyhow::Context;
use coinbeat_shared::{
    service::{self, HealthEndpoint, Service},
    shutdown, telemetry,
};

const SERVICE: Service = Service {
    name: "coinbeat-api",
    about: "Serves the coinbeat HTTP API: cached prices, markets and wallets, tasks, queues, \
            schedules and the admin endpoints.",
    health: HealthEndpoint::Api,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(settings) = service::start(&SERVICE)? else {
        return Ok(());
    };
    telemetry::init("coinbeat-api", settings.telemetry.format);
    let shutdown = shutdown::on_signal();
    coinbeat_api::run(settings, shutdown)
        .await
        .context("serving the api")
}
