//! `coinbeat-scheduler`: the service command line (`run`, `healthcheck`, `--check-config`),
//! then telemetry, then the beat until SIGINT or SIGTERM. Settings come from `--config` /
//! `COINBEAT_CONFIG` (a TOML file, optional) and the environment.

use coinbeat_shared::{
    service::{self, HealthEndpoint, Service},
    shutdown, telemetry,
};

const SERVICE: Service = Service {
    name: "coinbeat-scheduler",
    about: "The beat: enqueues each schedule entry's jobs on time, once per tick across every \
            replica. It only enqueues; the workers execute.",
    health: HealthEndpoint::Ops,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(settings) = service::start(&SERVICE)? else {
        return Ok(());
    };
    telemetry::init("coinbeat-scheduler", settings.telemetry.format);
    let stop = shutdown::on_signal();
    coinbeat_scheduler::run(settings, stop).await?;
    Ok(())
}
