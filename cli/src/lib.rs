//! `coinbeat`: run the whole system locally (`coinbeat up`) and operate a running one; also
//! every component of the image, called by its name ([`component`], [`multicall`]).

mod args;
mod bench;
mod commands;
pub mod component;
mod faults;
pub mod multicall;
mod output;
mod up;

use std::process::ExitCode;

use clap::Parser;

/// The `main` of the `coinbeat` binary.
pub fn main() -> ExitCode {
    // Called by a service's name (a symlink in the image): be that service.
    let service = std::env::args()
        .next()
        .and_then(|argv0| multicall::service(&argv0));
    let cli = match service {
        Some(_) => None,
        None => Some(args::Cli::parse()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let Some(cli) = cli else {
            let component = service.expect("a component when there is no command line");
            return match component.main().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // As the standalone binary's `anyhow` main prints it.
                    eprintln!("Error: {e:?}");
                    ExitCode::FAILURE
                }
            };
        };
        match commands::dispatch(cli).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    });
    // Do not wait for blocking threads: the read of standard input behind
    // `run --stop-on-stdin-eof` never ends while the parent holds the pipe, so waiting for it
    // would keep a component stopped by SIGTERM from ever exiting.
    runtime.shutdown_background();
    code
}
