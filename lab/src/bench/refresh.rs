//! `bench refresh`: the time from one price job to all N tracked symbols fresh, and the upstream
//! requests it took, against the simulator with a fixed latency on every request.
//!
//! The tracked symbols are synthetic (`SC00001` → the simulator's `sim-coin-00001`, ...), set in
//! a settings file the price-worker child reads (`COINBEAT_CONFIG`). The time is the task's
//! enqueue→done span from its own record (`enqueued_at`, `finished_at`, ms, written by Redis
//! scripts), so it includes the queue's pick-up and is an upper bound of start→fresh; then every
//! symbol's cached record is checked to be newer than the enqueue.

use std::{fmt::Write as _, time::Duration};

use anyhow::{Context, bail};
use coinbeat_shared::{
    cache::PriceCache,
    domain::{CoinId, Symbol},
    jobs::{Job, PricesJob},
    queue::EnqueueOptions,
};
use coinbeat_sim::{Faults, SimConfig, SimHandle};

use super::{
    lab::{Lab, start_sim, write_config},
    report::{Report, Row},
    stats::median,
};
use crate::args::{BenchArgs, Scenario};
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    if let Some(coins) = args.coins {
        return super::refresh_coins::run(args, coins).await;
    }
    let most = args
        .symbols_for(Scenario::Refresh)
        .into_iter()
        .max()
        .unwrap_or(12);
    if most > 99_999 {
        bail!("at most 99,999 symbols (the simulator's synthetic coin ids have five digits)");
    }
    let sim = steady_sim(most as u32, args.upstream_latency_ms).await?;
    Lab::start()
        .await?
        .run_beside(sim, async |lab, sim| measure(args, lab, sim).await)
        .await
}

/// The simulator with `extra_coins` synthetic coins, `latency_ms` added to every request, and
/// no churn: no coin may vanish mid-measurement, however long a run takes.
pub(super) async fn steady_sim(extra_coins: u32, latency_ms: u64) -> anyhow::Result<SimHandle> {
    start_sim(SimConfig {
        extra_coins,
        churn_epoch_secs: 0,
        faults: Faults {
            latency_ms,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
}

async fn measure(args: &BenchArgs, lab: &mut Lab, sim: &SimHandle) -> anyhow::Result<Report> {
    let per_request = lab.settings.providers.coingecko.max_ids_per_request;
    let parallel = lab.settings.providers.coingecko.max_concurrent_requests;
    let mut report = Report::new(
        "refresh",
        format!(
            "one price-worker process, simulator in the bench process with {} ms added to every \
             request, {per_request} ids per request, {parallel} requests at once; time = the \
             task's enqueue→done; median of {} runs after 1 warm-up",
            args.upstream_latency_ms, args.runs
        ),
    );
    for n in args.symbols_for(Scenario::Refresh) {
        let symbols: Vec<Symbol> = (1..=n)
            .map(|i| Symbol::parse(&format!("SC{i:05}")))
            .collect::<Result<_, _>>()?;
        let mut toml = String::from("[prices]\ntracked = [");
        for (i, s) in symbols.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(toml, "{sep}\"{s}\"");
        }
        toml.push_str("]\n\n[prices.coins]\n");
        for (i, s) in symbols.iter().enumerate() {
            let _ = writeln!(toml, "{s} = \"sim-coin-{:05}\"", i + 1);
        }
        let config = write_config(lab.dir(), &format!("refresh-{n}.toml"), &toml)?;
        lab.flush().await?;
        lab.spawn(
            Component::Worker(QueueWorker::PriceWorker),
            &[
                ("COINBEAT_CONFIG", config.display().to_string()),
                ("COINBEAT_PROVIDERS__COINGECKO__BASE_URL", sim.base_url()),
            ],
        )?;
        lab.wait_for_workers(&PricesJob::queue(), 1).await?;

        let mut times = Vec::new();
        let mut requests = Vec::new();
        for run in 0..=args.runs {
            let (ms, upstream) = refresh_once(lab, sim, &symbols).await?;
            if run > 0 {
                println!("refresh {n} symbols run {run}: {ms} ms, {upstream} upstream requests");
                times.push(ms as f64);
                requests.push(upstream as f64);
            }
        }
        lab.stop_children().await;
        let (secs, reqs) = (median(&times) / 1000.0, median(&requests));
        if n == 10_000 {
            report.rows.push(Row::target(
                format!("{n} symbols: job → all fresh (s)"),
                format!("{secs:.3}"),
                "≤ 2 s",
                secs <= 2.0,
            ));
            report.rows.push(Row::target(
                format!("{n} symbols: upstream requests"),
                format!("{reqs:.0}"),
                "≤ 40",
                reqs <= 40.0,
            ));
        } else {
            report.rows.push(Row::info(
                format!("{n} symbols: job → all fresh (s)"),
                format!("{secs:.3}"),
            ));
            report.rows.push(Row::info(
                format!("{n} symbols: upstream requests"),
                format!("{reqs:.0}"),
            ));
        }
    }
    Ok(report)
}

/// Runs one price job over the tracked set; returns (enqueue→done ms, upstream requests).
async fn refresh_once(
    lab: &Lab,
    sim: &SimHandle,
    symbols: &[Symbol],
) -> anyhow::Result<(u64, u64)> {
    let before = simple_price_requests(sim);
    let enqueued = chrono::Utc::now();
    let id = lab
        .producer()
        .enqueue(&PricesJob::default(), EnqueueOptions::default())
        .await?;
    let queue = PricesJob::queue();
    let mut done = lab
        .wait_done(
            &queue,
            &[id],
            Duration::from_secs(120),
            Duration::from_millis(2),
        )
        .await?;
    let info = done.pop().context("the price task's record")?;
    let upstream = simple_price_requests(sim) - before;
    let ms = match (info.enqueued_at, info.finished_at) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => bail!("the task record has no enqueue or finish time"),
    };
    let cache = PriceCache::new(lab.conn.clone(), lab.keys.clone(), &lab.settings.prices);
    let coins: Vec<CoinId> = (1..=symbols.len())
        .map(|i| CoinId::parse(&format!("sim-coin-{i:05}")))
        .collect::<Result<_, _>>()?;
    let cached = cache.get_many(&coins).await?;
    let stale = cached
        .iter()
        .filter(|r| r.as_ref().is_none_or(|r| r.fetched_at < enqueued))
        .count();
    if stale > 0 {
        bail!(
            "{stale} of {} symbols are not fresh after the job finished",
            symbols.len()
        );
    }
    Ok((ms, upstream))
}

fn simple_price_requests(sim: &SimHandle) -> u64 {
    sim.stats()
        .by_endpoint
        .iter()
        .filter(|(endpoint, _)| endpoint.ends_with("/simple/price"))
        .map(|(_, n)| n)
        .sum()
}
