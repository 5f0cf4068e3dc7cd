//! The command line every service binary shares (the API, the scheduler, each worker):
//!
//! ```text
//! price-worker [--config FILE] [--check-config] [run | healthcheck [--ready]]
//! ```
//!
//! - no subcommand or `run`: load the settings and run until SIGINT or SIGTERM;
//! - `healthcheck`: GET the running process's own `/healthz` (`--ready`: `/readyz`) and exit 0
//!   on a 200, 1 otherwise. Container images have no shell or curl, so this is what a compose
//!   `healthcheck` or a Kubernetes `exec` probe runs;
//! - `--check-config`: load and check the settings (the file, then `COINBEAT_*`), say what the
//!   process would use, and exit: 0 when they are valid. Deployment checks run it with a
//!   manifest's arguments and environment.
//!
//! [`start`] does all of that and hands `main` the settings only when it is to run.

mod healthcheck;

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use healthcheck::{HealthcheckError, probe};

use crate::settings::{Settings, SettingsError};

/// Which address a service answers `/healthz` and `/readyz` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthEndpoint {
    /// The API's own listener (`api.addr`).
    Api,
    /// The ops server beside the work (`ops.addr`): the workers and the scheduler.
    Ops,
}

impl HealthEndpoint {
    /// The setting that holds the address, and its value in `settings`.
    fn addr(self, settings: &Settings) -> Result<(&'static str, &str), ServiceError> {
        match self {
            HealthEndpoint::Api => Ok(("api.addr", settings.api.addr.as_str())),
            HealthEndpoint::Ops if !settings.ops.enabled => Err(ServiceError::OpsDisabled),
            HealthEndpoint::Ops => Ok(("ops.addr", settings.ops.addr.as_str())),
        }
    }
}

/// One service binary: its name (for `--help` and messages) and where it reports health.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    pub about: &'static str,
    pub health: HealthEndpoint,
}

/// What went wrong before the service could run, or the failed health check.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(
        "the ops server is off (ops.enabled = false), so there is no /healthz to check; \
         turn it on with COINBEAT_OPS__ENABLED=true"
    )]
    OpsDisabled,
    #[error("{setting} = {addr:?}: {source}")]
    Healthcheck {
        setting: &'static str,
        addr: String,
        #[source]
        source: HealthcheckError,
    },
}

#[derive(Debug, Parser)]
struct ServiceArgs {
    /// A TOML settings file, read before the `COINBEAT_*` environment.
    #[arg(long, env = "COINBEAT_CONFIG", global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Load and check the settings, say what this process would use, and exit (0: valid).
    #[arg(long, global = true)]
    check_config: bool,
    #[command(subcommand)]
    command: Option<ServiceCommand>,
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Run until SIGINT or SIGTERM (the default).
    Run,
    /// Exit 0 when this service's own /healthz answers 200, 1 otherwise (for container health
    /// checks: the image has no shell or curl).
    Healthcheck {
        /// Check /readyz instead (Redis reachable, the work loop running).
        #[arg(long)]
        ready: bool,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 2_000, value_name = "MS")]
        timeout_ms: u64,
    },
}

/// Parses the process's arguments (a usage error exits 2 with clap's message), loads the
/// settings and carries out `healthcheck` or `--check-config`. Returns the settings when the
/// service is to run, `None` when the invocation is done.
pub fn start(service: &Service) -> Result<Option<Settings>, ServiceError> {
    let command = ServiceArgs::command()
        .name(service.name)
        .about(service.about)
        .version(env!("CARGO_PKG_VERSION"));
    let args = ServiceArgs::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let settings = Settings::load(args.config.as_deref())?;
    let healthcheck = matches!(args.command, Some(ServiceCommand::Healthcheck { .. }));
    let (setting, addr) = match service.health.addr(&settings) {
        Ok((setting, addr)) => (setting, addr.to_owned()),
        // A configuration without an ops server is valid; only its health check is not.
        Err(ServiceError::OpsDisabled) if !healthcheck => ("ops.addr", "(off)".to_owned()),
        Err(e) => return Err(e),
    };
    if args.check_config {
        println!(
            "{}: settings are valid (key prefix {:?}, health on {setting} = {addr})",
            service.name, settings.redis.key_prefix
        );
        return Ok(None);
    }
    match args.command {
        None | Some(ServiceCommand::Run) => Ok(Some(settings)),
        Some(ServiceCommand::Healthcheck { ready, timeout_ms }) => {
            let path = if ready { "/readyz" } else { "/healthz" };
            probe(&addr, path, std::time::Duration::from_millis(timeout_ms)).map_err(|source| {
                ServiceError::Healthcheck {
                    setting,
                    addr,
                    source,
                }
            })?;
            Ok(None)
        }
    }
}
