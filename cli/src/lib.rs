//! `coinbeat`: run the whole system locally (`coinbeat up`) and operate a running one; also
//! every component of the image, called by its name ([`component`], [`multicall`]).

pub mod args;
pub mod commands;
pub mod component;
pub mod huge_pages;
pub mod multicall;
mod output;
pub mod up;

use std::process::ExitCode;

use clap::Parser;

/// The `main` of the `coinbeat` binary.
pub fn main() -> ExitCode {
    // Called by a component's name (a symlink in the image): be that component.
    let component = std::env::args()
        .next()
        .and_then(|argv0| multicall::service(&argv0));
    if let Some(component) = component {
        return block_on(async move {
            if let Err(e) = component.main().await {
                // As the standalone binary's `anyhow` main prints it.
                eprintln!("Error: {e:?}");
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        });
    }
    let cli = args::Cli::parse();
    block_on(commands::dispatch(cli))
}

/// Runs `main` to its end on a multi-threaded runtime; an error is printed and exits 1.
pub fn block_on(main: impl Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
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
        match main.await {
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
