//! `coinbeat`: run the whole system locally (`coinbeat up`) and operate a running one.

mod args;
mod bench;
mod commands;
mod output;
mod up;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
