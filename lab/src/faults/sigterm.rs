//! `faults sigterm`: a rolling deploy. Three `probe-worker` replicas drain `--rolling-jobs`
//! tasks while each replica in turn gets SIGTERM every 2 s and is replaced once it has exited.
//! Passes when no task is lost, none completes twice (a graceful stop finishes what runs and
//! hands back what it only fetched), and every process exits within its shutdown timeout.

use std::time::{Duration, Instant};

use super::{
    kill::{inflight_sets, worker_env},
    ledger,
    outcome::Outcome,
};
use crate::{args::FaultsArgs, bench::lab::Lab};
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// The workers' `shutdown_timeout_secs` in this scenario.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(args: &FaultsArgs) -> anyhow::Result<Outcome> {
    Lab::start()
        .await?
        .run(async |lab| scenario(args, lab).await)
        .await
}

async fn scenario(args: &FaultsArgs, lab: &mut Lab) -> anyhow::Result<Outcome> {
    const CONCURRENCY: usize = 4;
    let mut outcome = Outcome::new("sigterm");
    let mut env = worker_env(CONCURRENCY);
    env.push((
        "COINBEAT_QUEUES__DEFAULTS__SHUTDOWN_TIMEOUT_SECS",
        SHUTDOWN_TIMEOUT.as_secs().to_string(),
    ));
    let n = args.rolling_jobs as u64;
    ledger::start_draining(lab, &env, args.replicas, n).await?;
    outcome.jobs = n;

    let (mut restarts, mut slowest, mut late) = (0u64, Duration::ZERO, 0u64);
    let mut last_stop = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if ledger::probe_stats(lab).await?.waiting < (CONCURRENCY * args.replicas) as u64 {
            break;
        }
        // The oldest replica goes first, as a rolling deploy does.
        let victim = lab.pids()[0];
        lab.signal(victim, "TERM")?;
        match lab
            .reap(victim, SHUTDOWN_TIMEOUT + Duration::from_secs(10))
            .await?
        {
            Some((took, _status)) => {
                slowest = slowest.max(took);
                if took > SHUTDOWN_TIMEOUT + Duration::from_secs(1) {
                    late += 1;
                }
            }
            None => late += 1,
        }
        last_stop = Instant::now();
        restarts += 1;
        lab.spawn(Component::Worker(QueueWorker::ProbeWorker), &env)?;
    }

    let expected: Vec<u64> = (0..n).collect();
    let runs = ledger::wait_settled(lab, &expected, Duration::from_secs(60)).await?;
    let tally = ledger::tally(&runs, 0..n);
    outcome.lost = Some(tally.lost);
    outcome.duplicated = Some(tally.duplicated);
    outcome.recovery = Some(last_stop.elapsed());
    outcome.check(
        restarts > 0,
        format!("{restarts} replicas stopped with SIGTERM"),
    );
    outcome.check(tally.lost == 0, format!("{} lost", tally.lost));
    outcome.check(
        tally.duplicated == 0,
        format!("{} completed twice", tally.duplicated),
    );
    outcome.check(
        late == 0,
        format!(
            "slowest exit {:.2} s after SIGTERM (shutdown timeout {} s; {late} later than that)",
            slowest.as_secs_f64(),
            SHUTDOWN_TIMEOUT.as_secs()
        ),
    );
    let leftover = inflight_sets(lab).await?;
    outcome.check(
        leftover == 0,
        format!("{leftover} tasks left in in-flight sets"),
    );
    Ok(outcome)
}
