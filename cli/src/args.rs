//! The command line: every subcommand and flag, in one place.

use std::{net::SocketAddr, path::PathBuf};

use clap::{ArgGroup, Parser, Subcommand};
use coinbeat_shared::{jobs::Queue, settings::Role};

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
    /// Show the schedule table: each entry's cron, kind, whether it is paused, and last and next
    /// run.
    Schedules {
        #[arg(long)]
        json: bool,
    },
    /// Pause, resume or run one schedule entry now, or show its recent runs.
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Show every worker of every queue: host, pid, start, last heartbeat, tasks held, live.
    Workers {
        #[arg(long)]
        json: bool,
    },
    /// Show what the schedule table costs each upstream in every window of its rate limit
    /// (month windows included) and whether it fits; the calls one run of each entry makes.
    Plan {
        #[arg(long)]
        json: bool,
    },
    /// Show the coin catalogue, best-ranked first, or the coins whose name, symbol or id starts
    /// with SEARCH.
    Coins {
        search: Option<String>,
        /// How many coins to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show each shard of the live price streams: phase (streaming, failed over to CoinCap,
    /// down, unowned, ...), source, holder, the newest event's age, ticks, reconnects.
    Streams {
        #[arg(long)]
        json: bool,
    },
    /// Delete every waiting task of a queue (ready and delayed, with their payloads). Tasks a
    /// worker holds run on. Without --yes it only says what it would delete.
    Purge(PurgeArgs),
    /// Dead letters: tasks that will never run again (a permanent error, or retries exhausted).
    /// List, show, retry (back on the queue, attempts reset) or purge them.
    Dead {
        #[command(subcommand)]
        command: DeadCommand,
    },
    /// API keys: `keys new --role <read|enqueue|admin>` makes one, prints it once, and prints
    /// the settings line that configures it (only its hash is stored).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Run one component in the foreground (what `coinbeat up` starts as child processes).
    #[command(hide = true)]
    Run(RunArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new random 256-bit API key with a role; it is printed once, never stored.
    New {
        /// What the key may do: read, enqueue (also read) or admin (everything).
        #[arg(long)]
        role: Role,
        #[arg(long)]
        json: bool,
    },
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
    /// How many coins the simulator lists with `--simulate`: its built-in ones (the tracked
    /// twelve and a few more), then generated ones, ranked by market cap (seed 004's
    /// universe is about 14,000).
    #[arg(long, default_value_t = 14_000)]
    pub sim_coins: u32,
    /// Folder for the private Redis's data and socket (used when REDIS_URL is not set).
    #[arg(long, default_value = crate::up::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct EnqueueArgs {
    /// The job kind (= its queue): prices, market, wallet, health, cleanup.
    pub kind: Queue,
    /// For `prices`: the symbols to refresh, comma-separated (default: the tracked set).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// For `wallet`: the address to analyse (0x + 40 hex; mixed case must pass EIP-55).
    #[arg(long, conflicts_with = "symbols")]
    pub address: Option<String>,
    /// For `market`: how many of the top coins to fetch.
    #[arg(long, conflicts_with_all = ["symbols", "address"])]
    pub limit: Option<u32>,
    /// The job's arguments as a JSON object (instead of the kind-specific flags).
    #[arg(long, conflicts_with_all = ["symbols", "address", "limit"])]
    pub args: Option<String>,
    /// Refuse the job if another with this key was enqueued within the idempotency TTL.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// A product queue named on the command line.
fn queue_arg(name: &str) -> Result<Queue, String> {
    name.parse().map_err(|_| {
        format!(
            "unknown queue {name:?}; expected one of {}",
            Queue::ALL.map(Queue::as_str).join(", ")
        )
    })
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// The queue: prices, market, wallet, health, cleanup, catalogue, history, rates, alerts.
    #[arg(value_parser = queue_arg)]
    pub queue: Queue,
    /// Really delete (without it, nothing is deleted and the counts are shown).
    #[arg(long)]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeadCommand {
    /// List a queue's dead tasks, newest death first: id, attempts, last error, when it died.
    List {
        /// The queue: prices, market, wallet, health, cleanup, catalogue, history, rates, alerts.
        #[arg(value_parser = queue_arg)]
        queue: Queue,
        /// Tasks per page (at most 1000).
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Tasks to skip, for the next pages.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long)]
        json: bool,
    },
    /// Show one dead task: payload, attempts, last error, timestamps.
    Show {
        #[arg(value_parser = queue_arg)]
        queue: Queue,
        /// The task id (a ULID), as `dead list` prints it.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Put a dead task (or, with --all, every one) back on its queue with its attempts reset.
    /// Refused when the queue's backlog cap has no room for them.
    #[command(group(ArgGroup::new("target").required(true).args(["id", "all"])))]
    Retry {
        #[arg(value_parser = queue_arg)]
        queue: Queue,
        /// The task id (a ULID); leave it out with --all.
        id: Option<String>,
        /// Every dead task of the queue.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete a dead task's record (payload and metadata), or every one with --all --yes.
    #[command(group(ArgGroup::new("target").required(true).args(["id", "all"])))]
    Purge {
        #[arg(value_parser = queue_arg)]
        queue: Queue,
        /// The task id (a ULID); leave it out with --all.
        id: Option<String>,
        /// Every dead task of the queue (needs --yes).
        #[arg(long)]
        all: bool,
        /// Really delete every dead task (with --all).
        #[arg(long, requires = "all")]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Stop the beat from enqueueing the entry (ticks and catch-up) until it is resumed. Every
    /// scheduler replica sees it at its next tick.
    Pause {
        /// The entry's name in the schedule table (see `coinbeat schedules`).
        entry: String,
        #[arg(long)]
        json: bool,
    },
    /// Let the beat enqueue the entry again from its next tick. Ticks that fell while it was
    /// paused are skipped, not replayed (use `schedule run` to run it now).
    Resume {
        entry: String,
        #[arg(long)]
        json: bool,
    },
    /// Enqueue the entry's job with its arguments now (recorded as a manual run; works while
    /// paused).
    Run {
        entry: String,
        #[arg(long)]
        json: bool,
    },
    /// The entry's recent runs, newest first: tick time, task, trigger (tick, catch-up, manual)
    /// and what became of the task.
    History {
        entry: String,
        /// Runs to show (at most 50, the history's length).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A component: `coinbeat-scheduler`, `coinbeat-api`, a worker (`price-worker`,
    /// `probe-worker`, ...) or `coinbeat-sim`.
    pub component: crate::component::Component,
    /// Stop gracefully when standard input closes: `coinbeat up` holds the other end, so its
    /// children stop with it even if it is killed.
    #[arg(long)]
    pub stop_on_stdin_eof: bool,
}
