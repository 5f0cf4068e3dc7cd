//! The ops port of a worker process, served by a real worker runtime in this process against a
//! private redis-server: `/metrics` counts what the runtime did (tasks by outcome, run time, in
//! flight, retries) and reads its queue and its providers from Redis; `/readyz` follows Redis.

#[path = "common/redis.rs"]
mod redis_helpers;

use std::time::{Duration, Instant};

use coinbeat_shared::{
    Settings,
    jobs::{ProbeFailure, ProbeJob},
    settings::QueueOverride,
    testing::{Exposition, TestRedis},
};
use redis_helpers::producer;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// Generous on a loaded 2-core machine: bounds waiting for something that must happen.
const PATIENCE: Duration = Duration::from_secs(20);

struct Worker {
    base: String,
    http: reqwest::Client,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Worker {
    async fn start<W: coinbeat_workers::Worker>(settings: &Settings) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let task = tokio::spawn(coinbeat_workers::boot::run_on::<W>(
            settings.clone(),
            Some(listener),
            stop.clone(),
        ));
        Self {
            base,
            http: reqwest::Client::new(),
            stop,
            task,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (r.status(), r.text().await.unwrap())
    }

    async fn scrape(&self) -> Exposition {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Exposition::parse(&body)
    }

    /// Scrapes until `done` holds for the scrape, and returns that scrape.
    async fn scrape_until(&self, what: &str, done: impl Fn(&Exposition) -> bool) -> Exposition {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let m = self.scrape().await;
            if done(&m) {
                return m;
            }
            assert!(Instant::now() < deadline, "never {what}:\n{}", m.text);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the worker stops")
            .expect("worker task")
            .expect("the worker stops cleanly");
    }
}

fn probe(seq: u64, sleep_ms: u64, fail: Option<ProbeFailure>) -> ProbeJob {
    ProbeJob {
        seq,
        sleep_ms,
        fail,
        ..ProbeJob::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_done_tasks_and_two_dead_are_counted_by_outcome_with_the_retry_and_the_run_times() {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    settings.queues.overrides.insert(
        "probe".into(),
        QueueOverride {
            max_retries: Some(1),
            retry_base_delay_ms: Some(10),
            retry_max_delay_ms: Some(20),
            ..QueueOverride::default()
        },
    );
    let (_, _, producer) = producer(&settings).await;
    // Two quick successes, one success held in flight for a while, one permanent failure
    // (dead at once), one transient failure (retried once, then dead).
    producer
        .enqueue_bulk(&[
            probe(1, 20, None),
            probe(2, 20, None),
            // Long enough to outlast the gauges' reading (2 s), so a scrape sees it in flight.
            probe(3, 5_000, None),
            probe(4, 0, Some(ProbeFailure::Permanent)),
            probe(5, 0, Some(ProbeFailure::Transient)),
        ])
        .await
        .unwrap();

    let worker = Worker::start::<coinbeat_workers::probe::ProbeWorker>(&settings).await;
    let q = ("queue", "probe");

    let m = worker
        .scrape_until("one task in flight", |m| {
            m.value("coinbeat_tasks_in_flight", &[q]) == Some(1.0)
                && m.value("coinbeat_tasks_total", &[q, ("outcome", "done")]) == Some(2.0)
                && m.value("coinbeat_queue_tasks", &[q, ("state", "in_flight")]) == Some(1.0)
        })
        .await;
    assert_eq!(m.get("coinbeat_worker_running", &[q]), 1.0);
    assert_eq!(
        m.get("coinbeat_queue_tasks", &[q, ("state", "in_flight")]),
        1.0
    );

    let m = worker
        .scrape_until("every task finished", |m| {
            m.value("coinbeat_tasks_total", &[q, ("outcome", "done")]) == Some(3.0)
                && m.value("coinbeat_tasks_total", &[q, ("outcome", "dead")]) == Some(2.0)
        })
        .await;
    assert_eq!(m.type_of("coinbeat_tasks_total"), Some("counter"));
    assert_eq!(
        m.get("coinbeat_tasks_total", &[q, ("outcome", "retried")]),
        1.0
    );
    assert_eq!(
        m.get("coinbeat_task_retries_total", &[q]),
        1.0,
        "task 5's second run"
    );
    assert_eq!(m.get("coinbeat_tasks_in_flight", &[q]), 0.0);

    let done = [q, ("outcome", "done")];
    assert_eq!(
        m.type_of("coinbeat_task_duration_seconds"),
        Some("histogram")
    );
    assert_eq!(m.get("coinbeat_task_duration_seconds_count", &done), 3.0);
    let sum = m.get("coinbeat_task_duration_seconds_sum", &done);
    assert!(
        (1.54..10.0).contains(&sum),
        "they slept 1.54 s together, took {sum}"
    );
    let mut under_a_second = done.to_vec();
    under_a_second.push(("le", "1"));
    assert_eq!(
        m.get("coinbeat_task_duration_seconds_bucket", &under_a_second),
        2.0,
        "the held task took longer than a second"
    );
    let dead = [q, ("outcome", "dead")];
    assert_eq!(m.get("coinbeat_task_duration_seconds_count", &dead), 2.0);

    // Its own queue, read from Redis. Those gauges are sampled every couple of seconds, so
    // the scrape that first saw both deaths counted may still hold the sample before them.
    let m = worker
        .scrape_until("the queue's gauges caught up with the deaths", |m| {
            m.value("coinbeat_queue_tasks", &[q, ("state", "dead")]) == Some(2.0)
        })
        .await;
    assert_eq!(m.get("coinbeat_redis_up", &[]), 1.0);
    assert_eq!(m.get("coinbeat_queue_tasks", &[q, ("state", "dead")]), 2.0);
    assert_eq!(
        m.get("coinbeat_queue_tasks", &[q, ("state", "waiting")]),
        0.0
    );
    assert_eq!(m.get("coinbeat_queue_live_workers", &[q]), 1.0);
    assert!(
        m.series("coinbeat_queue_tasks")
            .iter()
            .all(|s| s.labels["queue"] == "probe"),
        "only its own queue:\n{}",
        m.text
    );
    assert!(
        m.series("coinbeat_breaker_state").is_empty(),
        "the probe worker calls no upstream"
    );

    assert_eq!(worker.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(worker.get("/readyz").await.0, StatusCode::OK);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_of_a_worker_turns_503_when_redis_dies_while_healthz_and_metrics_still_answer() {
    let mut redis = TestRedis::start();
    let mut settings = redis.settings();
    settings.ops.redis_timeout_ms = 300;
    let worker = Worker::start::<coinbeat_workers::prices::PriceWorker>(&settings).await;

    let deadline = Instant::now() + PATIENCE;
    while worker.get("/readyz").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let m = worker.scrape().await;
    // The providers the price worker calls, and only those.
    for provider in ["coingecko", "binance"] {
        let p = ("provider", provider);
        assert_eq!(m.get("coinbeat_breaker_state", &[p]), 0.0, "closed");
        assert_eq!(m.get("coinbeat_limiter_permits_total", &[p]), 0.0);
    }
    for provider in ["etherscan", "coinlore"] {
        assert_eq!(
            m.value("coinbeat_breaker_state", &[("provider", provider)]),
            None
        );
    }
    assert_eq!(
        m.get("coinbeat_worker_running", &[("queue", "prices")]),
        1.0
    );

    redis.kill();

    let (status, body) = worker.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "redis_unavailable", "{body}");
    assert_eq!(worker.get("/healthz").await.0, StatusCode::OK);
    // Past the last reading's lifetime, so this scrape reads Redis again.
    tokio::time::sleep(coinbeat_shared::metrics::redis_gauges::READING_TTL).await;
    let started = Instant::now();
    let m = worker.scrape().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(m.get("coinbeat_redis_up", &[]), 0.0);
    assert!(m.series("coinbeat_breaker_state").is_empty(), "{}", m.text);

    worker.stop.cancel();
}
