//! The checker's view of probe tasks: each counts its completed runs in the probe run ledger
//! (`Keys::probe_runs`, field = its sequence number), so after a fault the suite can tell which
//! acknowledged tasks never completed (lost) and which completed more than once (duplicated).

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use coinbeat_shared::{
    jobs::{Job, ProbeJob},
    queue::{QueueStats, queue_stats},
};

use crate::bench::lab::Lab;
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// Probe tasks numbered `seqs`, each running 5 to 50 ms (spread evenly by its number) and
/// counting its completion in the ledger.
pub fn probe_jobs(seqs: std::ops::Range<u64>) -> Vec<ProbeJob> {
    seqs.map(|seq| ProbeJob {
        seq,
        sleep_ms: 5 + (seq * 37) % 46,
        record: true,
        ..ProbeJob::default()
    })
    .collect()
}

/// Starts `replicas` `probe-worker` processes with `env`, waits until they are registered, and
/// enqueues probe tasks `0..n` for them.
pub async fn start_draining(
    lab: &mut Lab,
    env: &[(&str, String)],
    replicas: usize,
    n: u64,
) -> anyhow::Result<()> {
    for _ in 0..replicas {
        lab.spawn(Component::Worker(QueueWorker::ProbeWorker), env)?;
    }
    lab.wait_for_workers(&ProbeJob::queue(), replicas as u64)
        .await?;
    lab.producer().enqueue_bulk(&probe_jobs(0..n)).await?;
    Ok(())
}

/// Completed runs per sequence number.
pub async fn runs(lab: &Lab) -> anyhow::Result<HashMap<u64, u64>> {
    let runs: HashMap<u64, u64> = redis::cmd("HGETALL")
        .arg(lab.keys.probe_runs())
        .query_async(&mut lab.conn.clone())
        .await?;
    Ok(runs)
}

/// Lost and duplicated among the acknowledged tasks `acknowledged`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub completed: u64,
    pub lost: u64,
    pub duplicated: u64,
}

pub fn tally(runs: &HashMap<u64, u64>, acknowledged: impl IntoIterator<Item = u64>) -> Tally {
    let mut tally = Tally {
        completed: 0,
        lost: 0,
        duplicated: 0,
    };
    for seq in acknowledged {
        match runs.get(&seq).copied().unwrap_or(0) {
            0 => tally.lost += 1,
            n => {
                tally.completed += 1;
                tally.duplicated += n - 1;
            }
        }
    }
    tally
}

/// The probe queue's counters now.
pub async fn probe_stats(lab: &Lab) -> anyhow::Result<QueueStats> {
    let queue = ProbeJob::queue();
    let settings = lab.settings.queues.for_queue(&queue);
    Ok(queue_stats(&lab.conn, &lab.keys, &queue, &settings).await?)
}

/// Whether nothing of the probe queue waits, is delayed or is held by a worker.
pub fn idle(stats: &QueueStats) -> bool {
    stats.waiting == 0
        && stats.scheduled_due == 0
        && stats.scheduled_future == 0
        && stats.in_flight == 0
}

/// Waits (up to `within`) until each of `expected` tasks has completed and the probe queue is
/// idle; the ledger at that point (or at the deadline).
pub async fn wait_settled(
    lab: &Lab,
    expected: &[u64],
    within: Duration,
) -> anyhow::Result<HashMap<u64, u64>> {
    let started = Instant::now();
    loop {
        let runs = runs(lab).await?;
        let done = expected.iter().all(|seq| runs.contains_key(seq));
        if (done && idle(&probe_stats(lab).await?)) || started.elapsed() > within {
            return Ok(runs);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_never_run_is_lost_and_every_run_past_the_first_is_a_duplicate() {
        let runs = HashMap::from([(0, 1), (1, 3), (3, 1), (9, 2)]);
        // 9 ran but was never acknowledged: not counted.
        assert_eq!(
            tally(&runs, 0..4),
            Tally {
                completed: 3,
                lost: 1,
                duplicated: 2
            }
        );
    }

    #[test]
    fn probe_jobs_run_between_5_and_50_ms_and_record_themselves() {
        let jobs = probe_jobs(0..1000);
        assert!(
            jobs.iter()
                .all(|j| (5..=50).contains(&j.sleep_ms) && j.record)
        );
        assert_eq!(jobs.iter().map(|j| j.sleep_ms).min(), Some(5));
        assert_eq!(jobs.iter().map(|j| j.sleep_ms).max(), Some(50));
    }
}
