//! What the beat counts: each tick by trigger and outcome, how late a tick's job was
//! enqueued, catch-up runs, and whether the beat runs (for `/readyz`).

use coinbeat_shared::metrics::{Counter, Gauge, Histogram, Registry};

use crate::claim::Trigger;

/// Bucket upper bounds in seconds for lateness: a regular tick is enqueued within
/// milliseconds; a catch-up up to a period (or a downtime) late.
const LATENESS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3_600.0,
    86_400.0,
];

/// What became of one tick in this replica, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickOutcome {
    /// This replica enqueued the tick's job.
    Claimed,
    /// Another replica (or an earlier attempt) held the claim already.
    Deduplicated,
    /// Not enqueued (Redis down or slow); catch-up tries again.
    Failed,
    /// A missed scheduled time that catch-up did not run (it runs only the latest).
    Skipped,
    /// The entry is paused (`coinbeat schedule pause`): nothing was enqueued.
    Paused,
}

impl TickOutcome {
    fn as_str(self) -> &'static str {
        match self {
            TickOutcome::Claimed => "claimed",
            TickOutcome::Deduplicated => "deduplicated",
            TickOutcome::Failed => "failed",
            TickOutcome::Skipped => "skipped",
            TickOutcome::Paused => "paused",
        }
    }
}

/// The scheduler's metrics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SchedulerMetrics {
    ticks: Counter,
    lateness: Histogram,
    catch_ups: Counter,
    running: Gauge,
}

impl Default for SchedulerMetrics {
    /// Metrics in a registry of their own, which nobody renders.
    fn default() -> Self {
        Self::new(&Registry::new())
    }
}

impl SchedulerMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            ticks: registry.counter(
                "coinbeat_scheduler_ticks_total",
                "Ticks by entry, trigger (tick: apalis-cron fired it; catch-up) and outcome \
                 (claimed: this replica enqueued it; deduplicated: another replica had; failed: \
                 not enqueued, left to catch-up; skipped: missed and not run, catch-up runs the \
                 latest only).",
                &["entry", "trigger", "outcome"],
            ),
            lateness: registry.histogram(
                "coinbeat_scheduler_tick_lateness_seconds",
                "Time from a tick's scheduled time to the enqueue of its job by this replica.",
                &["entry", "trigger"],
                LATENESS_BUCKETS,
            ),
            catch_ups: registry.counter(
                "coinbeat_scheduler_catch_up_runs_total",
                "Catch-up passes that found a scheduled time not run and claimed it.",
                &["entry"],
            ),
            running: registry.gauge("coinbeat_scheduler_running", "1 while the beat runs.", &[]),
        }
    }

    /// Makes the entry's series exist at zero.
    pub(crate) fn register_entry(&self, entry: &str) {
        for trigger in [Trigger::Tick, Trigger::CatchUp] {
            for outcome in [
                TickOutcome::Claimed,
                TickOutcome::Deduplicated,
                TickOutcome::Failed,
                TickOutcome::Paused,
            ] {
                self.ticks
                    .touch(&[entry, trigger.as_str(), outcome.as_str()]);
            }
        }
        self.ticks.touch(&[
            entry,
            Trigger::CatchUp.as_str(),
            TickOutcome::Skipped.as_str(),
        ]);
        self.catch_ups.touch(&[entry]);
    }

    pub(crate) fn tick(&self, entry: &str, trigger: Trigger, outcome: TickOutcome) {
        self.ticks.inc(&[entry, trigger.as_str(), outcome.as_str()]);
    }

    pub(crate) fn skipped(&self, entry: &str, n: u64) {
        self.ticks.inc_by(
            &[
                entry,
                Trigger::CatchUp.as_str(),
                TickOutcome::Skipped.as_str(),
            ],
            n,
        );
    }

    pub(crate) fn late(&self, entry: &str, trigger: Trigger, seconds: f64) {
        self.lateness
            .observe(&[entry, trigger.as_str()], seconds.max(0.0));
    }

    pub(crate) fn caught_up(&self, entry: &str) {
        self.catch_ups.inc(&[entry]);
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.running.set(&[], if running { 1.0 } else { 0.0 });
    }

    /// Whether the beat runs now.
    pub fn is_running(&self) -> bool {
        self.running.get(&[]) > 0.0
    }
}
