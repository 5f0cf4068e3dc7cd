//! `bench ratelimit`: W `price-worker` replicas sharing one CoinGecko limit, a burst of
//! on-demand jobs, and the simulator enforcing the same limit per second at the upstream's side.
//! Reports what the upstream rejected (the limit held across replicas only if that is 0) and the
//! rate achieved while work was queued, as a share of the limit.
//!
//! Each job asks for one symbol, so one job is one upstream request. The rate is measured from
//! the simulator's arrival log: (requests − 1) / (last arrival − first arrival).

use std::time::{Duration, Instant};

use anyhow::bail;
use coinbeat_shared::{
    domain::Symbol,
    jobs::{Job, PricesJob},
    queue::queue_stats,
    ratelimit::{Provider, read_snapshot},
};
use coinbeat_sim::{ControlRequest, SimConfig, SimHandle, busiest_window};

use super::{
    lab::{Lab, start_sim},
    report::{Report, Row},
    stats::median,
};
use crate::args::BenchArgs;
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// Symbols of the built-in coin table the jobs cycle through.
const SYMBOLS: [&str; 8] = ["BTC", "ETH", "SOL", "BNB", "USDC", "TRX", "AVAX", "LTC"];

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    if args.limit_per_sec == 0 || args.replicas == 0 || args.jobs == 0 {
        bail!("--limit-per-sec, --replicas and --jobs must be at least 1");
    }
    let sim = start_sim(SimConfig::default()).await?;
    Lab::start()
        .await?
        .run_beside(sim, async |lab, sim| measure(args, lab, sim).await)
        .await
}

/// One run's figures.
struct Run {
    rejected: u64,
    share: f64,
    busiest: usize,
    waited: u64,
}

async fn measure(args: &BenchArgs, lab: &mut Lab, sim: &SimHandle) -> anyhow::Result<Report> {
    let limit = args.limit_per_sec;
    let mut report = Report::new(
        "ratelimit",
        format!(
            "{} price-worker processes sharing CoinGecko's limit of {limit}/s, the simulator \
             enforcing {limit} requests per sliding second; {} one-symbol jobs enqueued at once \
             per run; median of {} runs",
            args.replicas, args.jobs, args.runs
        ),
    );
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let figures = run_once(args, lab, sim).await?;
        println!(
            "ratelimit run {run}: {} rejected, {:.1} % of the limit, at most {} in a second",
            figures.rejected,
            figures.share * 100.0,
            figures.busiest
        );
        runs.push(figures);
    }
    let rejected = runs.iter().map(|r| r.rejected).max().unwrap_or(0);
    let share = median(&runs.iter().map(|r| r.share * 100.0).collect::<Vec<_>>());
    let busiest = runs.iter().map(|r| r.busiest).max().unwrap_or(0);
    let waited = median(&runs.iter().map(|r| r.waited as f64).collect::<Vec<_>>());
    report.rows.push(Row::target(
        "requests the upstream rejected (worst run)",
        rejected.to_string(),
        "0",
        rejected == 0,
    ));
    report.rows.push(Row::target(
        "achieved rate while queued (% of the limit)",
        format!("{share:.1}"),
        "≥ 90",
        share >= 90.0,
    ));
    report.rows.push(Row::target(
        "most requests in any 1 s at the upstream (worst run)",
        busiest.to_string(),
        format!("≤ {limit}"),
        busiest as u32 <= limit,
    ));
    report.rows.push(Row::info(
        "acquisitions that waited for a permit",
        format!("{waited:.0}"),
    ));
    report.notes.push(
        "The limiter counts each grant for its period plus a 50 ms guard (network jitter \
         between Redis's clock and the upstream's), so a steady rate tops out near 95 % of a \
         per-second limit."
            .into(),
    );
    Ok(report)
}

async fn run_once(args: &BenchArgs, lab: &mut Lab, sim: &SimHandle) -> anyhow::Result<Run> {
    lab.flush().await?;
    sim.reset();
    sim.control(&ControlRequest {
        provider: Some(coinbeat_sim::Provider::CoinGecko),
        calls_per_sec: Some(args.limit_per_sec),
        ..Default::default()
    })?;
    let env = [
        ("COINBEAT_PROVIDERS__COINGECKO__BASE_URL", sim.base_url()),
        (
            "COINBEAT_PROVIDERS__COINGECKO__RATE_LIMIT",
            format!("{}/s", args.limit_per_sec),
        ),
        // The limit under test is CoinGecko's: no fallback to another provider.
        ("COINBEAT_PROVIDERS__BINANCE__ENABLED", "false".into()),
    ];
    for _ in 0..args.replicas {
        lab.spawn(Component::Worker(QueueWorker::PriceWorker), &env)?;
    }
    let queue = PricesJob::queue();
    lab.wait_for_workers(&queue, args.replicas as u64).await?;

    let jobs: Vec<PricesJob> = (0..args.jobs)
        .map(|i| {
            Symbol::parse(SYMBOLS[i % SYMBOLS.len()]).map(|s| PricesJob {
                symbols: Some(vec![s]),
                ids: None,
                tier: None,
            })
        })
        .collect::<Result<_, _>>()?;
    lab.producer().enqueue_bulk(&jobs).await?;
    // Every request takes 1/limit s at best; allow three times that.
    let within = Duration::from_secs_f64(3.0 * args.jobs as f64 / args.limit_per_sec as f64 + 30.0);
    let started = Instant::now();
    let settings = lab.settings.queues.for_queue(&queue);
    loop {
        let stats = queue_stats(&lab.conn, &lab.keys, &queue, &settings).await?;
        if stats.dead > 0 {
            bail!("{} price jobs died (see the workers' logs)", stats.dead);
        }
        if stats.done >= args.jobs as u64 {
            break;
        }
        if started.elapsed() > within {
            bail!(
                "{} of {} jobs done within {within:?}",
                stats.done,
                args.jobs
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lab.stop_children().await;

    let arrivals = sim.arrivals(coinbeat_sim::Provider::CoinGecko);
    let n = arrivals.len();
    if n < 2 {
        bail!("the upstream saw {n} requests");
    }
    let span = (arrivals[n - 1] - arrivals[0]) as f64 / 1e6;
    let rate = (n - 1) as f64 / span;
    let stats = sim.stats();
    let rejected = stats
        .by_provider
        .get("coingecko")
        .map_or(0, |p| p.rate_limited);
    let limiter = read_snapshot(
        &lab.conn,
        &lab.keys,
        &lab.settings.providers.limiter_id(Provider::CoinGecko),
    )
    .await?;
    Ok(Run {
        rejected,
        share: rate / f64::from(args.limit_per_sec),
        busiest: busiest_window(&arrivals, Duration::from_secs(1)),
        waited: limiter.metrics.waited,
    })
}
