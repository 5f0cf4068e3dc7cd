//! Global rate limits with real worker processes, the simulator enforcing the same limits at the
//! upstream's side and logging when each request arrived:
//!
//! - 4 `price-worker` and 2 `market-worker` processes share CoinGecko's 10/s: 500 on-demand jobs,
//!   the simulator rejects none, and the achieved rate is at least 90 % of the limit;
//! - 3 `wallet-worker` processes analysing 30 wallets never send Etherscan more than 3 requests
//!   in any one-second window;
//! - one 429 with `Retry-After: 5`: once it is answered, no process sends CoinGecko anything for
//!   5 s (requests already on their way when it was answered arrive within milliseconds of it),
//!   then every job completes.
//!
//! The scenarios run one at a time (they measure rates).

#[path = "common/worker_process.rs"]
mod worker_process;

use std::time::{Duration, Instant};

use coinbeat_shared::{
    Settings,
    domain::{Address, Symbol},
    jobs::{Job, MarketJob, PricesJob, WalletJob},
    keys::Keys,
    queue::{Producer, QueueStats, queue_stats},
    redis_conn,
    testing::TestRedis,
};
use coinbeat_sim::{ArrivalLog, ControlRequest, SimConfig, SimHandle, Stats};
use redis::aio::ConnectionManager;
use worker_process::WorkerProcess;

/// One scenario at a time: they measure rates on a shared machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Ctx {
    _redis: TestRedis,
    settings: Settings,
    conn: ConnectionManager,
    keys: Keys,
    producer: Producer,
    sim: SimHandle,
}

async fn setup() -> Ctx {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let producer = Producer::new(conn.clone(), keys.clone(), settings.queues.clone());
    let sim = coinbeat_sim::start(SimConfig::default()).await.unwrap();
    Ctx {
        _redis: redis,
        settings,
        conn,
        keys,
        producer,
        sim,
    }
}

impl Ctx {
    /// The environment of every worker process here: the simulator for every provider, no
    /// Binance fallback (CoinGecko's limit is under test), and `extra` on top.
    fn env(&self, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut env: Vec<(&'static str, String)> = vec![
            (
                "COINBEAT_PROVIDERS__COINGECKO__BASE_URL",
                self.sim.base_url(),
            ),
            (
                "COINBEAT_PROVIDERS__COINLORE__BASE_URL",
                self.sim.coinlore_url(),
            ),
            (
                "COINBEAT_PROVIDERS__ETHERSCAN__BASE_URL",
                self.sim.etherscan_url(),
            ),
            ("COINBEAT_PROVIDERS__BINANCE__ENABLED", "false".into()),
            ("ETHERSCAN_API_KEY", "sim-key".into()),
            ("COINBEAT_QUEUES__DEFAULTS__POLL_INTERVAL_MS", "50".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    }

    fn spawn(&self, binary: &str, n: usize, env: &[(&'static str, String)]) -> Vec<WorkerProcess> {
        (0..n)
            .map(|_| WorkerProcess::spawn(binary, &self.settings, env))
            .collect()
    }

    async fn stats<J: Job>(&self) -> QueueStats {
        let queue = J::queue();
        queue_stats(
            &self.conn,
            &self.keys,
            &queue,
            &self.settings.queues.for_queue(&queue),
        )
        .await
        .unwrap()
    }

    /// Waits until `done` tasks of `J`'s queue are done; fails on a dead one or a timeout.
    async fn wait_done<J: Job>(&self, done: u64, within: Duration, workers: &[WorkerProcess]) {
        let deadline = Instant::now() + within;
        loop {
            let s = self.stats::<J>().await;
            if s.dead > 0 {
                let logs: Vec<String> = workers.iter().map(|w| w.log()).collect();
                let errors: Vec<&str> = logs
                    .iter()
                    .flat_map(|log| log.lines())
                    .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                    .take(5)
                    .collect();
                panic!("a dead {} task: {s:?}\n{}", J::queue(), errors.join("\n"));
            }
            if s.done >= done {
                return;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = workers.iter().map(|w| w.log()).collect();
                panic!(
                    "{} done of {done} within {within:?}: {s:?}\n{}",
                    s.done,
                    logs.join("\n-----\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn arrivals(&self, provider: &str) -> ArrivalLog {
        reqwest::get(format!(
            "{}/sim/arrivals?provider={provider}",
            self.sim.root_url()
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    }

    async fn sim_stats(&self) -> Stats {
        reqwest::get(format!("{}/sim/stats", self.sim.root_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_processes_share_coingeckos_limit_and_use_at_least_90_percent_of_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let ctx = setup().await;
    ctx.sim
        .control(&ControlRequest {
            provider: Some(coinbeat_sim::Provider::CoinGecko),
            calls_per_sec: Some(10),
            ..Default::default()
        })
        .unwrap();
    let env = ctx.env(&[
        ("COINBEAT_PROVIDERS__COINGECKO__RATE_LIMIT", "10/s"),
        // A market job then costs 4 requests: markets, global, and the supply of BTC and ETH.
        ("COINBEAT_PRICES__TRACKED", "[BTC,ETH]"),
        // The limit under test is CoinGecko's: a market job whose permit wait runs out would
        // otherwise be served by CoinLore, and CoinGecko would see fewer requests than jobs.
        // With no CoinLore to fall back to, such a job is retried against CoinGecko.
        (
            "COINBEAT_PROVIDERS__COINLORE__BASE_URL",
            "http://127.0.0.1:9",
        ),
    ]);
    let mut workers = ctx.spawn(env!("CARGO_BIN_EXE_price-worker"), 4, &env);
    workers.extend(ctx.spawn(env!("CARGO_BIN_EXE_market-worker"), 2, &env));

    // 490 single-symbol price jobs and 10 market jobs, all at once.
    let symbols = ["BTC", "ETH", "SOL", "BNB", "USDC", "TRX", "AVAX", "LTC"];
    let prices: Vec<PricesJob> = (0..490)
        .map(|i| PricesJob {
            symbols: Some(vec![Symbol::parse(symbols[i % symbols.len()]).unwrap()]),
        })
        .collect();
    ctx.producer.enqueue_bulk(&prices).await.unwrap();
    let markets: Vec<MarketJob> = (0..10).map(|_| MarketJob { limit: 10 }).collect();
    ctx.producer.enqueue_bulk(&markets).await.unwrap();

    ctx.wait_done::<PricesJob>(490, Duration::from_secs(120), &workers)
        .await;
    ctx.wait_done::<MarketJob>(10, Duration::from_secs(30), &workers)
        .await;

    let stats = ctx.sim_stats().await;
    let coingecko = &stats.by_provider["coingecko"];
    assert_eq!(
        coingecko.rate_limited, 0,
        "the upstream rejected none: {stats:?}"
    );
    let log = ctx.arrivals("coingecko").await;
    let n = log.arrivals_us.len();
    assert!(n >= 500, "at least one request per job: {n} requests");
    assert!(log.busiest_window(Duration::from_secs(1)) <= 10);
    let span = (log.arrivals_us[n - 1] - log.arrivals_us[0]) as f64 / 1e6;
    let rate = (n - 1) as f64 / span;
    eprintln!("coingecko: {n} requests in {span:.1} s = {rate:.2}/s of a 10/s limit");
    assert!(rate >= 9.0, "achieved {rate:.2}/s, under 90 % of 10/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_wallet_workers_never_send_etherscan_more_than_3_requests_in_any_second() {
    let _one = ONE_AT_A_TIME.lock().await;
    let ctx = setup().await;
    ctx.sim
        .control(&ControlRequest {
            etherscan_calls_per_sec: Some(3),
            ..Default::default()
        })
        .unwrap();
    // Etherscan's default limit: `3/s, 100000/day`.
    let env = ctx.env(&[]);
    let workers = ctx.spawn(env!("CARGO_BIN_EXE_wallet-worker"), 3, &env);

    // 30 wallets with a few transactions each (the sim's ledgers: an address ending in
    // anything but `0` or `f`): a balance, a page of transactions and one of token transfers.
    let jobs: Vec<WalletJob> = (1..=30u64)
        .map(|i| WalletJob {
            chain: Default::default(),
            address: Address::parse(&format!("0x{:039x}1", i)).unwrap(),
        })
        .collect();
    ctx.producer.enqueue_bulk(&jobs).await.unwrap();
    ctx.wait_done::<WalletJob>(30, Duration::from_secs(90), &workers)
        .await;

    let stats = ctx.sim_stats().await;
    assert_eq!(stats.by_provider["etherscan"].rate_limited, 0, "{stats:?}");
    let log = ctx.arrivals("etherscan").await;
    assert!(log.arrivals_us.len() >= 90, "{}", log.arrivals_us.len());
    let busiest = log.busiest_window(Duration::from_secs(1));
    eprintln!(
        "etherscan: {} requests, at most {busiest} in any second",
        log.arrivals_us.len()
    );
    assert!(busiest <= 3, "{busiest} requests in one second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_429_with_retry_after_5_no_process_asks_for_5_seconds_then_all_jobs_complete() {
    let _one = ONE_AT_A_TIME.lock().await;
    let ctx = setup().await;
    let env = ctx.env(&[("COINBEAT_PROVIDERS__COINGECKO__RATE_LIMIT", "10/s")]);
    let workers = ctx.spawn(env!("CARGO_BIN_EXE_price-worker"), 2, &env);
    ctx.sim
        .control(&ControlRequest {
            provider: Some(coinbeat_sim::Provider::CoinGecko),
            throttle_once_secs: Some(5),
            ..Default::default()
        })
        .unwrap();

    let jobs: Vec<PricesJob> = ["BTC", "ETH", "SOL", "BNB", "TRX", "LTC"]
        .iter()
        .cycle()
        .take(20)
        .map(|s| PricesJob {
            symbols: Some(vec![Symbol::parse(s).unwrap()]),
        })
        .collect();
    ctx.producer.enqueue_bulk(&jobs).await.unwrap();
    ctx.wait_done::<PricesJob>(20, Duration::from_secs(60), &workers)
        .await;

    let stats = ctx.sim_stats().await;
    assert_eq!(stats.by_provider["coingecko"].rate_limited, 1, "{stats:?}");
    let log = ctx.arrivals("coingecko").await;
    // The first request got the 429. Requests granted before it was answered (the start is a
    // burst of up to 10) were on their way already; after that, nothing for 5 s.
    let throttled_at = log.arrivals_us[0];
    let in_flight = Duration::from_millis(50).as_micros() as u64;
    let burst = log
        .arrivals_us
        .iter()
        .take_while(|&&t| t - throttled_at <= in_flight)
        .count();
    assert!(burst <= 10, "{burst} requests in the first 50 ms");
    let next = log.arrivals_us[burst];
    let silence = next - throttled_at;
    eprintln!(
        "after the 429: {burst} requests already on their way, then {:.3} s without a request",
        silence as f64 / 1e6
    );
    assert!(
        silence >= 5_000_000,
        "a request came {silence} µs after the 429 asked for 5 s"
    );
    assert!(log.arrivals_us.len() > 20);
}
