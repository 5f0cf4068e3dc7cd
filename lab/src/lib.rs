//! coinbeat's development lab: measurements and fault injection over the real thing (a private
//! `redis-server`, the simulator, the components as child processes). It is a crate of its own
//! so the production image's `coinbeat` holds none of it.
//!
//! - [`bench`]: `coinbeat-lab bench`, the figures in BENCHMARKS.md.
//! - [`faults`]: `coinbeat-lab faults`, the fault suite behind RELIABILITY.md.
//! - [`args`]: what they take.
//!
//! `coinbeat-lab` also answers every `coinbeat` command, `run` among them: the lab starts its
//! components as `coinbeat-lab run <component>`, so it needs no other binary beside it.

pub mod args;
pub mod bench;
pub mod faults;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

/// coinbeat's development lab: benchmarks and the fault suite, plus every `coinbeat` command.
#[derive(Debug, Parser)]
#[command(name = "coinbeat-lab", version, propagate_version = true)]
struct LabCli {
    /// A TOML settings file (also `COINBEAT_CONFIG`); environment variables override it.
    #[arg(long, global = true, env = "COINBEAT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// Measure the system: starts what it needs (a private redis-server, the simulator, child
    /// processes), prints a table, appends it to BENCHMARKS.md, and stops everything it started.
    Bench(args::BenchArgs),
    /// Run the fault suite: kill, pause and restart real processes and Redis under load,
    /// check that nothing acknowledged is lost, print a table and write it to RELIABILITY.md.
    Faults(args::FaultsArgs),
    #[command(flatten)]
    Coinbeat(coinbeat::args::Command),
}

/// The `main` of `coinbeat-lab`.
pub fn main() -> ExitCode {
    let cli = LabCli::parse();
    coinbeat::block_on(async move {
        match cli.command {
            // The bench and the fault suite build their own settings: their figures must not
            // depend on the caller's.
            LabCommand::Bench(args) => bench::bench(args).await,
            LabCommand::Faults(args) => faults::faults(args).await,
            LabCommand::Coinbeat(command) => {
                let cli = coinbeat::args::Cli {
                    config: cli.config,
                    command,
                };
                coinbeat::commands::dispatch(cli).await
            }
        }
    })
}
