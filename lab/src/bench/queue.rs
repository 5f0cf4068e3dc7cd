//! `bench queue`: enqueue N no-op tasks in bulk, drain them with W worker processes × C
//! concurrency; Redis commands per task from `INFO commandstats`; then enqueue→start latency of
//! single tasks sent one at a time to an idle worker.
//!
//! A drain run fills the queue first, with no worker running, then starts the workers; the drain
//! time is the span of the queue's finish times (`{ns}:finished`, ms), from the first task done
//! to the last, so process start-up is not counted.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use coinbeat_shared::jobs::{Job, ProbeJob};
use coinbeat_shared::queue::EnqueueOptions;

use super::{
    lab::{Lab, command_deltas},
    machine,
    report::{Report, Row},
    stats::{median, percentile},
};
use crate::args::BenchArgs;
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// One drain run's figures.
#[derive(Debug, Clone, Default)]
struct Drain {
    enqueue_per_sec: f64,
    drain_per_sec: f64,
    commands_per_task: f64,
    redis_cpu_us_per_task: f64,
    worker_cpu_us_per_task: f64,
    breakdown: Vec<(String, u64, u64)>,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    Lab::start()
        .await?
        .run(async |lab| measure(args, lab).await)
        .await
}

async fn measure(args: &BenchArgs, lab: &mut Lab) -> anyhow::Result<Report> {
    let n = args.tasks.max(1);
    let mut env = vec![(
        "COINBEAT_QUEUES__DEFAULTS__CONCURRENCY",
        args.concurrency.to_string(),
    )];
    if let Some(batch) = args.fetch_batch {
        env.push(("COINBEAT_QUEUES__DEFAULTS__FETCH_BATCH", batch.to_string()));
    }
    let fetch_batch = args
        .fetch_batch
        .unwrap_or(lab.settings.queues.defaults.fetch_batch);
    let mut report = Report::new(
        "queue",
        format!(
            "{n} no-op probe tasks per run, {} worker process(es) × concurrency {}, fetch batch \
             {fetch_batch}; {} single tasks for enqueue→start; median of {} runs after 1 warm-up",
            args.workers, args.concurrency, args.latency_tasks, args.runs
        ),
    );

    let jobs: Vec<ProbeJob> = (0..n as u64)
        .map(|seq| ProbeJob {
            seq,
            ..ProbeJob::default()
        })
        .collect();
    let mut drains = Vec::new();
    for run in 0..=args.runs {
        let size = if run == 0 { (n / 10).max(1) } else { n };
        let d = drain(args, lab, &env, &jobs[..size]).await?;
        if run > 0 {
            println!(
                "queue run {run}: enqueue {:.0}/s, drain {:.0}/s, {:.2} commands/task",
                d.enqueue_per_sec, d.drain_per_sec, d.commands_per_task
            );
            drains.push(d);
        }
    }
    let med = |f: fn(&Drain) -> f64| median(&drains.iter().map(f).collect::<Vec<_>>());
    let drain_rate = med(|d| d.drain_per_sec);
    report.rows.push(Row::info(
        "enqueue rate (bulk, tasks/s)",
        format!("{:.0}", med(|d| d.enqueue_per_sec)),
    ));
    let drain_label = format!("drain rate (tasks/s, {} worker(s))", args.workers);
    if args.workers == 1 {
        report.rows.push(Row::target(
            drain_label,
            format!("{drain_rate:.0}"),
            // Issue 17: twice BullMQ 6.7 on this machine (21,500-22,600 jobs/s, one worker).
            "≥ 45,000 with 1 worker process",
            drain_rate >= 45_000.0,
        ));
    } else {
        report
            .rows
            .push(Row::info(drain_label, format!("{drain_rate:.0}")));
    }
    report.rows.push(Row::info(
        "Redis commands per task (incl. inside scripts)",
        format!("{:.2}", med(|d| d.commands_per_task)),
    ));
    report.rows.push(Row::info(
        "Redis CPU per task (µs, INFO cpu)",
        format!("{:.1}", med(|d| d.redis_cpu_us_per_task)),
    ));
    report.rows.push(Row::info(
        "worker CPU per task (µs, all worker processes)",
        format!("{:.1}", med(|d| d.worker_cpu_us_per_task)),
    ));
    if let Some(last) = drains.last() {
        let per_task: Vec<String> = last
            .breakdown
            .iter()
            .take(8)
            .map(|(name, calls, usec)| {
                format!(
                    "{name} {:.2} ({:.1} µs)",
                    *calls as f64 / n as f64,
                    *usec as f64 / n as f64
                )
            })
            .collect();
        report.notes.push(format!(
            "Redis commands per task in the last drain run, by command (calls/task, µs/task; a \
             script's time includes the commands it runs, which are also counted on their own): {}",
            per_task.join(", ")
        ));
    }

    let (p50s, p99s): (Vec<f64>, Vec<f64>) = {
        lab.flush().await?;
        lab.spawn(Component::Worker(QueueWorker::ProbeWorker), &env)?;
        lab.wait_for_workers(&ProbeJob::queue(), 1).await?;
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        for run in 0..=args.runs {
            let count = if run == 0 {
                100
            } else {
                args.latency_tasks.max(1)
            };
            let mut samples = enqueue_to_start(lab, count).await?;
            samples.sort_unstable();
            if run > 0 {
                let (p50, p99) = (percentile(&samples, 50.0), percentile(&samples, 99.0));
                println!("queue latency run {run}: enqueue→start p50 {p50} µs, p99 {p99} µs");
                p50s.push(p50 as f64);
                p99s.push(p99 as f64);
            }
        }
        lab.stop_children().await;
        (p50s, p99s)
    };
    let (p50, p99) = (median(&p50s) / 1000.0, median(&p99s) / 1000.0);
    report.rows.push(Row::info(
        "enqueue→start p50 at idle (ms)",
        format!("{p50:.3}"),
    ));
    report.rows.push(Row::target(
        "enqueue→start p99 at idle (ms)",
        format!("{p99:.3}"),
        "≤ 2 ms",
        p99 <= 2.0,
    ));
    Ok(report)
}

/// Fills the queue with `jobs` (no worker running), then drains it with fresh workers.
async fn drain(
    args: &BenchArgs,
    lab: &mut Lab,
    env: &[(&str, String)],
    jobs: &[ProbeJob],
) -> anyhow::Result<Drain> {
    lab.flush().await?;
    let queue = ProbeJob::queue();
    let qkeys = lab.keys.queue(&queue);
    let producer = lab.producer();
    let n = jobs.len() as u64;

    let started = Instant::now();
    producer.enqueue_bulk(jobs).await.context("bulk enqueue")?;
    let enqueue_secs = started.elapsed().as_secs_f64();

    let before = lab.command_stats().await?;
    let redis_cpu_before = lab.redis_cpu_micros().await?;
    let mut pids = Vec::new();
    for _ in 0..args.workers {
        pids.push(lab.spawn(Component::Worker(QueueWorker::ProbeWorker), env)?);
    }
    let mut polls = 0u64;
    let started = Instant::now();
    let timeout = Duration::from_secs(60 + n / 1_000);
    loop {
        let done: u64 = redis::cmd("SCARD")
            .arg(qkeys.done())
            .query_async(&mut lab.conn.clone())
            .await?;
        polls += 1;
        if done >= n {
            break;
        }
        if started.elapsed() > timeout {
            bail!("only {done} of {n} tasks done after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let worker_cpu: u64 = pids.iter().filter_map(|p| machine::cpu_micros(*p)).sum();
    let after = lab.command_stats().await?;
    let redis_cpu_after = lab.redis_cpu_micros().await?;
    lab.stop_children().await;

    let first: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(qkeys.finished())
        .arg(0)
        .arg(0)
        .arg("WITHSCORES")
        .query_async(&mut lab.conn.clone())
        .await?;
    let last: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(qkeys.finished())
        .arg(-1)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut lab.conn.clone())
        .await?;
    let span_ms = match (first.first(), last.first()) {
        (Some((_, a)), Some((_, b))) => (b - a).max(1.0),
        _ => bail!("no finish times recorded"),
    };

    let mut breakdown = command_deltas(&before, &after);
    // Our own progress polls and the INFO snapshot are not the queue's work.
    for (name, calls, _) in &mut breakdown {
        match name.as_str() {
            "scard" => *calls = calls.saturating_sub(polls),
            "info" => *calls = calls.saturating_sub(2),
            _ => {}
        }
    }
    breakdown.retain(|(_, calls, _)| *calls > 0);
    let calls: u64 = breakdown.iter().map(|(_, c, _)| c).sum();
    Ok(Drain {
        enqueue_per_sec: n as f64 / enqueue_secs,
        drain_per_sec: (n.saturating_sub(1)).max(1) as f64 / (span_ms / 1000.0),
        commands_per_task: calls as f64 / n as f64,
        redis_cpu_us_per_task: redis_cpu_after.saturating_sub(redis_cpu_before) as f64 / n as f64,
        worker_cpu_us_per_task: worker_cpu as f64 / n as f64,
        breakdown,
    })
}

/// Sends `count` stamped tasks one at a time, each after the previous one started; returns
/// each one's enqueue→start time in microseconds.
async fn enqueue_to_start(lab: &Lab, count: usize) -> anyhow::Result<Vec<u64>> {
    let producer = lab.producer();
    let starts = lab.keys.probe_starts();
    let mut conn = lab.conn.clone();
    let mut samples = Vec::with_capacity(count);
    for seq in 0..count as u64 {
        let job = ProbeJob {
            seq,
            stamp: true,
            ..ProbeJob::default()
        };
        let sent = unix_micros();
        producer.enqueue(&job, EnqueueOptions::default()).await?;
        let waited = Instant::now();
        let stamp = loop {
            let popped: Option<String> = redis::cmd("LPOP")
                .arg(&starts)
                .query_async(&mut conn)
                .await?;
            if let Some(s) = popped {
                break s;
            }
            if waited.elapsed() > Duration::from_secs(10) {
                bail!("probe task {seq} did not start within 10 s");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        let (got_seq, micros) = stamp.split_once(':').context("malformed start stamp")?;
        if got_seq != seq.to_string() {
            bail!("expected the start of task {seq}, got {stamp}");
        }
        let started: u64 = micros.parse().context("malformed start stamp")?;
        samples.push(started.saturating_sub(sent));
    }
    Ok(samples)
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
