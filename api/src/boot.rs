//! The `main` of `coinbeat-api` (also what the image's `coinbeat` runs when called by that
//! name): the service command line (`run`, `healthcheck`, `--check-config`), then logging, then
//! the API until SIGINT or SIGTERM.

use anyhow::Context;
use coinbeat_shared::{
    service::{self, HealthEndpoint, Service},
    shutdown, telemetry,
};

pub const SERVICE: Service = Service {
    name: "coinbeat-api",
    about: "Serves the coinbeat HTTP API: cached prices, markets and wallets, tasks, queues, \
            schedules and the admin endpoints.",
    health: HealthEndpoint::Api,
};

/// Parses the process's arguments, then serves until a signal arrives.
pub async fn main() -> anyhow::Result<()> {
    let Some(settings) = service::start(&SERVICE)? else {
        return Ok(());
    };
    telemetry::init(SERVICE.name, settings.telemetry.format);
    let shutdown = shutdown::on_signal();
    crate::run(settings, shutdown)
        .await
        .context("serving the api")
}
