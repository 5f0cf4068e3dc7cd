//! `bench memory`: resident memory (VmRSS, and the peak VmHWM) of each component process, idle
//! and after the `queue` and `api` loads.
//!
//! Every component runs as `coinbeat run <component>`, the one `coinbeat` executable the
//! standalone binaries are built from, so each figure is what that component costs as a process.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use coinbeat_shared::jobs::{Job, ProbeJob};
use coinbeat_sim::SimConfig;

use super::{
    api::write_prices,
    lab::{Lab, free_addr, start_sim, wait_listening},
    load, machine,
    report::{Report, Row},
};
use crate::args::BenchArgs;
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// Components measured, with the ceiling for each under load (MiB), if it has one.
const COMPONENTS: [(Component, Option<u64>); 4] = [
    (Component::Scheduler, None),
    (Component::Worker(QueueWorker::PriceWorker), Some(30)),
    (Component::Worker(QueueWorker::ProbeWorker), Some(30)),
    (Component::Api, Some(50)),
];

const IDLE: Duration = Duration::from_secs(3);

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let sim = start_sim(SimConfig::default()).await?;
    Lab::start()
        .await?
        .run_beside(sim, async |lab, sim| {
            measure(args, lab, &sim.base_url()).await
        })
        .await
}

async fn measure(args: &BenchArgs, lab: &mut Lab, sim_url: &str) -> anyhow::Result<Report> {
    let mut report = Report::new(
        "memory",
        format!(
            "each component as its own `coinbeat run <component>` process (the scheduler's first \
             price job runs against the simulator); idle = {} s after start; load = {} no-op \
             tasks drained by the probe-worker (concurrency {}), then {} s of each price route \
             at {} connections; peak = VmHWM",
            IDLE.as_secs(),
            args.tasks,
            args.concurrency,
            args.duration_secs,
            args.connections
        ),
    );
    write_prices(lab).await?;
    let addr = free_addr()?;
    let env = [
        ("COINBEAT_API__ADDR", addr.to_string()),
        // The load generator is one client; the per-client limits would cut the load short.
        ("COINBEAT_API__CLIENT_RATE_PER_SEC", "0".into()),
        (
            "COINBEAT_API__MAX_CONNECTIONS_PER_CLIENT",
            (args.connections + 16).to_string(),
        ),
        (
            "COINBEAT_PROVIDERS__COINGECKO__BASE_URL",
            sim_url.to_owned(),
        ),
        (
            "COINBEAT_QUEUES__DEFAULTS__CONCURRENCY",
            args.concurrency.to_string(),
        ),
    ];
    let mut pids = Vec::new();
    for (name, _) in COMPONENTS {
        pids.push((name, lab.spawn(name, &env)?));
    }
    wait_listening(addr).await?;
    lab.wait_for_workers(&ProbeJob::queue(), 1).await?;
    tokio::time::sleep(IDLE).await;
    let idle: Vec<u64> = pids
        .iter()
        .map(|(name, pid)| {
            machine::rss_kib(*pid)
                .map(|(rss, _)| rss)
                .with_context(|| format!("{name} is not running"))
        })
        .collect::<Result<_, _>>()?;

    // The queue load.
    let n = args.tasks.max(1);
    let jobs: Vec<ProbeJob> = (0..n as u64)
        .map(|seq| ProbeJob {
            seq,
            ..ProbeJob::default()
        })
        .collect();
    lab.producer().enqueue_bulk(&jobs).await?;
    let done_key = lab.keys.queue(&ProbeJob::queue()).done();
    let started = Instant::now();
    loop {
        let done: u64 = redis::cmd("SCARD")
            .arg(&done_key)
            .query_async(&mut lab.conn.clone())
            .await?;
        if done >= n as u64 {
            break;
        }
        if started.elapsed() > Duration::from_secs(60 + n as u64 / 1_000) {
            bail!("only {done} of {n} probe tasks done");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The api load.
    let duration = Duration::from_secs(args.duration_secs.max(1));
    for path in ["/v1/prices/BTC", "/v1/prices"] {
        load::run(addr, path, args.connections, duration).await?;
    }

    for ((name, pid), idle_kib) in pids.iter().zip(idle) {
        let (rss, peak) = machine::rss_kib(*pid).with_context(|| format!("{name} died"))?;
        let mib = |kib: u64| kib as f64 / 1024.0;
        report.rows.push(Row::info(
            format!("{name}: RSS idle (MiB)"),
            format!("{:.1}", mib(idle_kib)),
        ));
        report.rows.push(Row::info(
            format!("{name}: RSS after load (MiB)"),
            format!("{:.1}", mib(rss)),
        ));
        let ceiling = COMPONENTS
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, c)| *c);
        match ceiling {
            Some(c) => report.rows.push(Row::target(
                format!("{name}: peak RSS (MiB)"),
                format!("{:.1}", mib(peak)),
                format!("≤ {c} MB"),
                mib(peak) <= c as f64,
            )),
            None => report.rows.push(Row::info(
                format!("{name}: peak RSS (MiB)"),
                format!("{:.1}", mib(peak)),
            )),
        }
    }
    Ok(report)
}
