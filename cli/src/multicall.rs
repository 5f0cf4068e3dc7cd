//! One binary, every service: called by the name of a service binary (`price-worker`,
//! `coinbeat-api`, ...; a symlink to `coinbeat` in the container image), `coinbeat` is that
//! service, running the very `main` the standalone binary runs. The image ships this one binary
//! and a link per name instead of ten binaries that each hold most of the same code.

use std::path::Path;

/// The service `argv0` names, if it names one.
pub fn service(argv0: &str) -> Option<&'static str> {
    let name = Path::new(argv0).file_name()?.to_str()?;
    SERVICES.iter().copied().find(|s| *s == name)
}

/// Every service name `coinbeat` answers to.
pub const SERVICES: &[&str] = &[
    "coinbeat-api",
    "coinbeat-scheduler",
    "coinbeat-sim",
    "price-worker",
    "market-worker",
    "wallet-worker",
    "health-worker",
    "cleanup-worker",
    "catalogue-worker",
    "stream-worker",
    "probe-worker",
];

/// Runs the service called `name` as its own binary would.
pub async fn run(name: &'static str) -> anyhow::Result<()> {
    match name {
        "coinbeat-api" => coinbeat_api::boot::main().await,
        "coinbeat-scheduler" => coinbeat_scheduler::boot::main().await,
        "coinbeat-sim" => coinbeat_sim::cli::main().await,
        worker => coinbeat_workers::boot::main(worker).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_worker_the_registry_knows_is_a_service_name() {
        for worker in coinbeat_workers::registry::PRODUCT_WORKERS
            .iter()
            .chain(&["probe-worker"])
        {
            assert_eq!(service(&format!("/usr/local/bin/{worker}")), Some(*worker));
            assert!(
                coinbeat_workers::registry::about(worker).is_some(),
                "{worker}"
            );
        }
        assert_eq!(service("coinbeat"), None);
        assert_eq!(service("/usr/bin/price-worker-old"), None);
    }
}
