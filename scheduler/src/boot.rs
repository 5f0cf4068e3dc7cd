//! The `main` of `coinbeat-scheduler` (also what the image's `coinbeat` runs when called by
//! that name): the service command line (`run`, `healthcheck`, `--check-config`), then
//! telemetry, then the beat until SIGINT or SIGTERM. Settings come from `--config` /
//! `COINBEAT_CONFIG` (a TOML file, optional) and the environment.

use coinbeat_shared::{
    service::{self, HealthEndpoint, Service},
    shutdown, telemetry,
};

pub const SERVICE: Service = Service {
    name: "coinbeat-scheduler",
    about: "The beat: enqueues each schedule entry's jobs on time, once per tick across every \
            replica. It only enqueues; the workers execute.",
    health: HealthEndpoint::Ops,
};

/// Parses the process's arguments, then runs the beat until a signal arrives.
pub async fn main() -> anyhow::Result<()> {
    let Some(settings) = service::start(&SERVICE)? else {
        return Ok(());
    };
    telemetry::init(SERVICE.name, settings.telemetry.format);
    let stop = shutdown::on_signal();
    crate::run(settings, stop).await?;
    Ok(())
}
