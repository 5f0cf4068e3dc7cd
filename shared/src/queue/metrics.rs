//! What a worker runtime counts in-process: tasks by queue and outcome, their run time, tasks
//! running now, retry runs, and whether an apalis worker is running at all (readiness).

use std::time::Duration;

use crate::{
    jobs::QueueName,
    metrics::{Counter, Gauge, Histogram, Registry, TASK_BUCKETS},
};

/// The outcome of one run as its ack recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Failed transiently; the task waits for its next attempt.
    Retried,
    /// Told to wait (a throttle); the task waits that long, its attempts untouched.
    Throttled,
    Dead,
    /// The ack was refused: the task was no longer held by this worker (released at shutdown,
    /// or recovered as an orphan), so another run owns its result.
    Dropped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Retried => "retried",
            Outcome::Throttled => "throttled",
            Outcome::Dead => "dead",
            Outcome::Dropped => "dropped",
        }
    }
}

/// The runtime's metrics. Cheap to clone; every clone records into the same registry.
#[derive(Debug, Clone)]
pub struct RuntimeMetrics {
    tasks: Counter,
    duration: Histogram,
    in_flight: Gauge,
    retries: Counter,
    running: Gauge,
    restarts: Counter,
}

impl Default for RuntimeMetrics {
    /// Metrics in a registry of their own, which nobody renders.
    fn default() -> Self {
        Self::new(&Registry::new())
    }
}

impl RuntimeMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            tasks: registry.counter(
                "coinbeat_tasks_total",
                "Task runs finished by this process, by queue and outcome (done, retried, dead, \
                 dropped: a late ack of a task no longer held).",
                &["queue", "outcome"],
            ),
            duration: registry.histogram(
                "coinbeat_task_duration_seconds",
                "Run time of a task's handler, by queue and outcome.",
                &["queue", "outcome"],
                TASK_BUCKETS,
            ),
            in_flight: registry.gauge(
                "coinbeat_tasks_in_flight",
                "Tasks whose handler is running in this process now.",
                &["queue"],
            ),
            retries: registry.counter(
                "coinbeat_task_retries_total",
                "Runs that were a retry (a task's second or later attempt).",
                &["queue"],
            ),
            running: registry.gauge(
                "coinbeat_worker_running",
                "1 while this process runs an apalis worker for the queue; 0 while it is \
                 stopped or backing off after a Redis error.",
                &["queue"],
            ),
            restarts: registry.counter(
                "coinbeat_worker_restarts_total",
                "Times the supervisor replaced a worker that stopped without a shutdown.",
                &["queue"],
            ),
        }
    }

    /// Makes the queue's series exist at zero, so a scrape shows them before the first task.
    pub(crate) fn register_queue(&self, queue: &QueueName) {
        let q = queue.as_str();
        for outcome in [
            Outcome::Done,
            Outcome::Retried,
            Outcome::Throttled,
            Outcome::Dead,
        ] {
            self.tasks.touch(&[q, outcome.as_str()]);
        }
        self.retries.touch(&[q]);
        self.restarts.touch(&[q]);
        self.in_flight.add(&[q], 0.0);
        self.running.add(&[q], 0.0);
    }

    /// Whether an apalis worker for `queue` is running now.
    pub fn is_running(&self, queue: &QueueName) -> bool {
        self.running.get(&[queue.as_str()]) > 0.0
    }

    pub(crate) fn set_running(&self, queue: &QueueName, running: bool) {
        self.running
            .set(&[queue.as_str()], if running { 1.0 } else { 0.0 });
    }

    pub(crate) fn restarted(&self, queue: &QueueName) {
        self.restarts.inc(&[queue.as_str()]);
    }

    /// Counts a handler as running until the returned guard drops (also when its future is
    /// dropped at the shutdown timeout).
    pub(crate) fn start(&self, queue: &QueueName) -> InFlight {
        self.in_flight.add(&[queue.as_str()], 1.0);
        InFlight {
            gauge: self.in_flight.clone(),
            queue: queue.clone(),
        }
    }

    /// Records one acked run: its outcome, run time and whether it was a retry.
    pub(crate) fn finished(
        &self,
        queue: &QueueName,
        outcome: Outcome,
        ran_for: Duration,
        attempt: u64,
    ) {
        let labels = [queue.as_str(), outcome.as_str()];
        self.tasks.inc(&labels);
        self.duration.observe(&labels, ran_for.as_secs_f64());
        if attempt > 1 {
            self.retries.inc(&[queue.as_str()]);
        }
    }
}

/// One running handler in the in-flight gauge.
#[derive(Debug)]
pub(crate) struct InFlight {
    gauge: Gauge,
    queue: QueueName,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.add(&[self.queue.as_str()], -1.0);
    }
}
