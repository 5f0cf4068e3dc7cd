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
    /// Measure the system: starts what it needs (a private redis-server, the simulator, child
    /// processes), prints a table, appends it to BENCHMARKS.md, and stops everything it started.
    Bench(BenchArgs),
    /// Run the fault suite: kill, pause and restart real processes and Redis under load,
    /// check that nothing acknowledged is lost, print a table and write it to RELIABILITY.md.
    Faults(FaultsArgs),
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
    /// The queue: prices, market, wallet, health, cleanup.
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
        /// The queue: prices, market, wallet, health, cleanup.
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

/// What `coinbeat bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Bulk enqueue and drain of no-op tasks; Redis commands per task; enqueue→start latency.
    Queue,
    /// `GET /v1/prices/BTC` and `GET /v1/prices` at many connections.
    Api,
    /// `coinbeat up --simulate` watched through the API for `--minutes`: each price tier's
    /// largest age against its interval, and every call and refusal the simulator counted.
    Tiers,
    /// One price job until every tracked symbol is fresh, against a slow simulator.
    Refresh,
    /// Resident memory of each component idle and under the queue and api loads.
    Memory,
    /// Worker replicas sharing one upstream limit under a burst of on-demand jobs, the
    /// simulator enforcing the same limit: rejections and the rate achieved.
    Ratelimit,
    /// One stream-worker ingesting the simulator's Binance trades for `--symbols` symbols at
    /// each of `--rates`, the API serving them to `--clients` SSE clients: ticks/s ingested,
    /// CPU per tick, exchange event → client latency, the worker's RSS.
    Stream,
    /// Every scenario above but `tiers` (which watches a running system for many minutes),
    /// one after the other.
    All,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    pub scenario: Scenario,
    /// Measured runs per figure (the median is reported); one warm-up run comes first and is
    /// not counted.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// queue: no-op tasks enqueued in bulk and drained per run.
    #[arg(long, default_value_t = 100_000)]
    pub tasks: usize,
    /// queue: worker processes draining them.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// queue: tasks each worker process runs at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// queue: tasks fetched per round trip (default: the `queues.defaults.fetch_batch` setting).
    #[arg(long)]
    pub fetch_batch: Option<usize>,
    /// queue: single tasks sent one at a time to an idle worker for enqueue→start latency.
    #[arg(long, default_value_t = 1_000)]
    pub latency_tasks: usize,
    /// api: seconds of load per endpoint and run (after a 2 s warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// api: concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// api: idle live-price stream clients (SSE) held open while `GET /v1/prices/BTC` is
    /// measured a second time, against the first measurement without them.
    #[arg(long, default_value_t = 0)]
    pub stream_clients: usize,
    /// refresh: tracked-symbol counts to measure, comma-separated (default 12,1000,10000);
    /// stream: streamed-symbol counts (default 1000).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<usize>,
    /// refresh: the whole market instead of the tracked set: the simulator lists this many
    /// coins and every default price tier refreshes them (e.g. `--coins 14000`); tiers: the
    /// coins the simulator lists (default 14000).
    #[arg(long)]
    pub coins: Option<u32>,
    /// tiers: minutes watched after the warm-up.
    #[arg(long, default_value_t = 15)]
    pub minutes: u64,
    /// refresh: latency the simulator adds to every upstream request.
    #[arg(long, default_value_t = 100)]
    pub upstream_latency_ms: u64,
    /// ratelimit: price-worker processes sharing CoinGecko's limit.
    #[arg(long, default_value_t = 4)]
    pub replicas: usize,
    /// ratelimit: the limit (requests per second) the workers share and the simulator enforces.
    #[arg(long, default_value_t = 10)]
    pub limit_per_sec: u32,
    /// ratelimit: one-symbol price jobs enqueued at once per run.
    #[arg(long, default_value_t = 300)]
    pub jobs: usize,
    /// stream: total trade rates the simulator sends (trades per second over all symbols,
    /// each symbol trading at rate / symbols), comma-separated; each is measured in turn. The
    /// latency target is judged at 10,000, the ingest target (50,000/s) wherever the simulator
    /// sent at least that many (it sends about 99 % of the rate asked).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000])]
    pub rates: Vec<u64>,
    /// stream: SSE clients on `GET /v1/stream/prices` noting each price's arrival.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// stream: symbols in each client's `symbols=` filter, dealt out in turn so the clients
    /// together cover the streamed symbols; 0 (the default): every client streams every symbol.
    #[arg(long, default_value_t = 0)]
    pub client_symbols: usize,
    /// Print the table only; do not append it to the benchmark file.
    #[arg(long)]
    pub no_append: bool,
    /// The file each run is appended to.
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
}

impl BenchArgs {
    /// The symbol counts `scenario` measures: `--symbols`, or that scenario's default.
    pub fn symbols_for(&self, scenario: Scenario) -> Vec<usize> {
        match (self.symbols.is_empty(), scenario) {
            (false, _) => self.symbols.clone(),
            (true, Scenario::Stream) => vec![1_000],
            (true, _) => vec![12, 1_000, 10_000],
        }
    }
}

/// What `coinbeat faults` injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultScenario {
    /// SIGKILL of one of the worker replicas every 2 s during `--jobs` tasks.
    Kill,
    /// Rolling SIGTERM of every worker replica during `--rolling-jobs` tasks.
    Sigterm,
    /// SIGSTOP of the worker holding a price job past the orphan window, then SIGCONT.
    Pause,
    /// Redis killed and restarted with `appendonly yes` while tasks are enqueued.
    RedisAof,
    /// Redis killed and restarted with no persistence: everything must refill by itself.
    RedisEphemeral,
    /// On-demand enqueues far past a queue's cap while health checks run.
    Flood,
    /// A steady job rate on shortened schedules for `--soak-secs`.
    Soak,
    /// Worker replicas a minute behind and ahead (libfaketime), then SIGKILL of the one behind.
    ClockSkew,
    /// Task records with their meta or payload deleted before the workers fetch them.
    Poison,
    /// A small Redis filled until enqueues are refused for memory, then drained; then an
    /// evicting policy, which a worker must refuse.
    MemoryPressure,
    /// Every worker connection reset again and again while acks are in flight.
    AckReset,
    /// The stream-worker holding the shards frozen, its successor killed, a rolling restart.
    Stream,
    /// Every scenario above, one after the other.
    All,
}

#[derive(Debug, clap::Args)]
pub struct FaultsArgs {
    #[arg(default_value = "all")]
    pub scenario: FaultScenario,
    /// kill: tasks drained while replicas are killed.
    #[arg(long, default_value_t = 10_000)]
    pub jobs: usize,
    /// sigterm: tasks drained during the rolling restart.
    #[arg(long, default_value_t = 5_000)]
    pub rolling_jobs: usize,
    /// kill, sigterm: worker replicas.
    #[arg(long, default_value_t = 3)]
    pub replicas: usize,
    /// soak: how long it runs (at least 20 s).
    #[arg(long, default_value_t = 120)]
    pub soak_secs: u64,
    /// Print the table only; do not write it into the reliability file.
    #[arg(long)]
    pub no_write: bool,
    /// The file whose latest table is replaced.
    #[arg(long, default_value = "RELIABILITY.md")]
    pub out: PathBuf,
}
