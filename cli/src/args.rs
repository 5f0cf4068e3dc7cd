//! The command line: every subcommand and flag, in one place.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Parser, Subcommand};
use coinbeat_shared::jobs::Queue;

/// coinbeat keeps crypto market data fresh in Redis and serves it: a beat, queues, one worker
/// per queue, and an HTTP API.
#[derive(Debug, Parser)]
#[command(name = "coinbeat", version, propagate_version = true)]
pub struct Cli {
    /// A TOML settings file (also `COINBEAT_CONFIG`); environment variables override it.
    #[arg(long, global = true, env = "COINBEAT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole system on this machine: Redis (unless REDIS_URL is set), the scheduler,
    /// one replica of every worker, and the API. Ctrl-C stops everything it started.
    Up(UpArgs),
    /// Enqueue a job now.
    Enqueue(EnqueueArgs),
    /// Show one task: status, attempts, timestamps, result or error.
    Task {
        /// The task id (a ULID) printed by `enqueue` or returned by `POST /v1/tasks`.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Show every queue: waiting, scheduled, in flight, done, dead, oldest wait, live workers.
    Queues {
        #[arg(long)]
        json: bool,
    },
    /// Run one component in the foreground (what `coinbeat up` starts as child processes).
    #[command(hide = true)]
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Also start the upstream simulator and point every provider at it (no internet or keys
    /// needed).
    #[arg(long)]
    pub simulate: bool,
    /// Where the API listens (default: the `api.addr` setting, 127.0.0.1:8080).
    #[arg(long)]
    pub api_addr: Option<SocketAddr>,
    /// Where the simulator listens with `--simulate` (default: a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub sim_addr: SocketAddr,
    /// Folder for the private Redis's data and socket (used when REDIS_URL is not set).
    #[arg(long, default_value = ".coinbeat")]
    pub data_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct EnqueueArgs {
    /// The job kind (= its queue): prices, market, wallet, health, cleanup.
    pub kind: Queue,
    /// For `prices`: the symbols to refresh, comma-separated (default: the tracked set).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// The job's arguments as a JSON object (instead of the kind-specific flags).
    #[arg(long, conflicts_with = "symbols")]
    pub args: Option<String>,
    /// Refuse the job if another with this key was enqueued within the idempotency TTL.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// `scheduler`, `api`, `sim`, or a worker (`price-worker`, `probe-worker`).
    pub component: String,
    /// Stop gracefully when standard input closes: `coinbeat up` holds the other end, so its
    /// children stop with it even if it is killed.
    #[arg(long)]
    pub stop_on_stdin_eof: bool,
}
