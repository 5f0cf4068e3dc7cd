//! The command line of `coinbeat-lab`: what `bench` and `faults` take.

use std::path::PathBuf;

/// What `coinbeat-lab bench` measures.
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
    /// `--tasks` finished tasks (use `--tasks 1000000`) searched through `GET /v1/tasks` by
    /// arguments, error text, time and id: latency, tasks examined, Redis memory per task.
    Search,
    /// The history in PostgreSQL (the machine's server, a database of its own): `--coins`
    /// coins (default 10) × a year of minute snapshots written and written again, one-year
    /// hourly candles, bytes per coin-year.
    History,
    /// 10,000 price alerts on one coin against one price update that crosses them all, one
    /// that crosses none, and (the peer) an update of a coin without alerts.
    Alerts,
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
    /// queue: no-op tasks enqueued in bulk and drained per run; search: finished tasks
    /// searched.
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
    /// coins the simulator lists (default 14000); history: coins with a year of minute
    /// snapshots each (default 10).
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

/// What `coinbeat-lab faults` injects.
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
