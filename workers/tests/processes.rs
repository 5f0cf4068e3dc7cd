//! The queue layer with real worker processes: a 100,000-task backlog, SIGKILL of a worker
//! holding tasks, and a Redis restart under a running worker.

use std::{
    collections::HashMap,
    process::Command,
    time::{Duration, Instant},
};

use coinbeat_shared::{
    Settings,
    jobs::{Job, ProbeJob},
    keys::Keys,
    queue::{EnqueueOptions, Producer, QueueStats, queue_stats},
    redis_conn,
    testing::TestRedis,
};
use redis::aio::ConnectionManager;

#[path = "common/worker_process.rs"]
mod worker_process;

use worker_process::WorkerProcess;

/// A `probe-worker` process.
fn probe_worker(settings: &Settings, env: &[(&str, String)]) -> WorkerProcess {
    WorkerProcess::spawn(env!("CARGO_BIN_EXE_probe-worker"), settings, env)
}

struct Ctx {
    redis: TestRedis,
    settings: Settings,
    keys: Keys,
    conn: ConnectionManager,
    producer: Producer,
}

async fn setup() -> Ctx {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let producer = Producer::new(conn.clone(), keys.clone(), settings.queues.clone());
    Ctx {
        redis,
        settings,
        keys,
        conn,
        producer,
    }
}

impl Ctx {
    async fn stats(&self) -> QueueStats {
        queue_stats(
            &self.conn,
            &self.keys,
            &ProbeJob::queue(),
            &self.settings.queues.defaults,
        )
        .await
        .unwrap()
    }

    async fn wait_until(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&QueueStats) -> bool,
    ) -> QueueStats {
        let deadline = Instant::now() + within;
        loop {
            let s = self.stats().await;
            if done(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not reached within {within:?}; last stats {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// seq → how many times a recorded probe task ran.
    async fn runs(&self) -> HashMap<u64, u64> {
        redis::cmd("HGETALL")
            .arg(self.keys.probe_runs())
            .query_async(&mut self.conn.clone())
            .await
            .unwrap()
    }
}

fn recorded(seq: u64, sleep_ms: u64) -> ProbeJob {
    ProbeJob {
        seq,
        sleep_ms,
        record: true,
        ..ProbeJob::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_100_000_tasks_drains_with_one_worker_process_none_lost_none_run_twice() {
    const N: u64 = 100_000;
    let ctx = setup().await;
    let jobs: Vec<_> = (0..N).map(|i| recorded(i, 0)).collect();
    ctx.producer.enqueue_bulk(&jobs).await.unwrap();
    assert_eq!(
        ctx.stats().await.waiting,
        N,
        "the whole backlog waits with no worker running"
    );

    let worker = probe_worker(
        &ctx.settings,
        &[
            ("COINBEAT_QUEUES__DEFAULTS__CONCURRENCY", "64".into()),
            ("COINBEAT_QUEUES__DEFAULTS__FETCH_BATCH", "256".into()),
        ],
    );
    let s = ctx
        .wait_until("backlog drained", Duration::from_secs(600), |s| {
            s.done + s.dead == N
        })
        .await;
    assert_eq!(s.dead, 0, "{s:?}");
    assert_eq!(
        s.waiting + s.in_flight + s.scheduled_due + s.scheduled_future,
        0,
        "{s:?}"
    );

    let runs = ctx.runs().await;
    assert_eq!(runs.len() as u64, N, "every task ran");
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n != 1).take(5).collect();
    assert!(twice.is_empty(), "tasks that ran more than once: {twice:?}");
    let log = worker.log();
    assert!(
        log.contains("worker starting"),
        "the log is captured:\n{log}"
    );
    assert!(
        !log.contains("worker stopped by an error"),
        "the worker hit an error:\n{log}"
    );
    assert!(!log.contains("too many results to unpack"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_holding_tasks_has_them_finished_by_the_other_within_the_orphan_window()
 {
    const ORPHAN_SECS: u64 = 3;
    let ctx = setup().await;
    let env = [
        ("COINBEAT_QUEUES__DEFAULTS__CONCURRENCY", "10".to_string()),
        ("COINBEAT_QUEUES__DEFAULTS__FETCH_BATCH", "10".into()),
        ("COINBEAT_QUEUES__DEFAULTS__HEARTBEAT_SECS", "1".into()),
        (
            "COINBEAT_QUEUES__DEFAULTS__ORPHAN_AFTER_SECS",
            ORPHAN_SECS.to_string(),
        ),
    ];
    let mut a = probe_worker(&ctx.settings, &env);
    let b = probe_worker(&ctx.settings, &env);
    ctx.wait_until("both workers registered", Duration::from_secs(10), |s| {
        s.live_workers == 2
    })
    .await;

    let jobs: Vec<_> = (0..20).map(|i| recorded(i, 1_500)).collect();
    ctx.producer.enqueue_bulk(&jobs).await.unwrap();

    // Wait until each worker holds tasks, then find A's set by its pid in the worker name.
    let k = ctx.keys.queue(&ProbeJob::queue());
    let a_pid = format!("-{}-", a.child.id());
    let mut c = ctx.conn.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    let a_held: Vec<String> = loop {
        let workers: Vec<String> = redis::cmd("ZRANGE")
            .arg(k.workers())
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .unwrap();
        let mut held = HashMap::new();
        for w in &workers {
            let ids: Vec<String> = redis::cmd("SMEMBERS")
                .arg(k.inflight(w))
                .query_async(&mut c)
                .await
                .unwrap();
            held.insert(w.clone(), ids);
        }
        let a_ids = held
            .iter()
            .find(|(w, _)| w.contains(&a_pid))
            .map(|(_, ids)| ids.clone())
            .unwrap_or_default();
        if !a_ids.is_empty() && held.values().filter(|ids| !ids.is_empty()).count() == 2 {
            break a_ids;
        }
        assert!(
            Instant::now() < deadline,
            "both workers never held tasks: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let killed_at = Instant::now();
    a.kill9();
    ctx.wait_until("all tasks done", Duration::from_secs(30), |s| s.done == 20)
        .await;
    let took = killed_at.elapsed();
    assert!(
        took <= Duration::from_secs(ORPHAN_SECS + 5),
        "the killed worker's {} tasks took {took:?} to finish (window {ORPHAN_SECS} s + 5 s)",
        a_held.len()
    );
    let runs = ctx.runs().await;
    assert_eq!(runs.len(), 20, "none lost: {runs:?}");
    assert!(
        runs.values().all(|n| *n == 1),
        "each task finished once: {runs:?}"
    );
    let stats = ctx.stats().await;
    assert_eq!(
        stats.live_workers, 1,
        "the dead worker was deregistered: {stats:?}"
    );
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_resumes_by_itself_after_redis_restarts_under_it() {
    let mut ctx = setup().await;
    let worker = probe_worker(
        &ctx.settings,
        &[
            ("COINBEAT_QUEUES__DEFAULTS__HEARTBEAT_SECS", "1".into()),
            ("COINBEAT_QUEUES__DEFAULTS__ORPHAN_AFTER_SECS", "3".into()),
        ],
    );
    ctx.producer
        .enqueue(&recorded(1, 0), EnqueueOptions::default())
        .await
        .unwrap();
    ctx.wait_until("first task done", Duration::from_secs(10), |s| s.done == 1)
        .await;

    // A crash-restart of Redis: every key is gone, every connection breaks.
    ctx.redis.restart();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if ctx
            .producer
            .enqueue(&recorded(2, 0), EnqueueOptions::default())
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "producer never reconnected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ctx.wait_until(
        "task enqueued after the restart done",
        Duration::from_secs(30),
        |s| s.done == 1 && s.live_workers == 1,
    )
    .await;
    assert_eq!(ctx.runs().await.get(&2), Some(&1));
    let log = worker.log();
    assert!(
        log.contains("restarting"),
        "the supervisor should have restarted the worker:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_tasks_finish_and_releases_the_rest_at_the_shutdown_timeout() {
    let ctx = setup().await;
    let mut worker = probe_worker(
        &ctx.settings,
        &[
            (
                "COINBEAT_QUEUES__DEFAULTS__SHUTDOWN_TIMEOUT_SECS",
                "1".into(),
            ),
            ("COINBEAT_QUEUES__DEFAULTS__CONCURRENCY", "2".into()),
        ],
    );
    ctx.wait_until("worker registered", Duration::from_secs(10), |s| {
        s.live_workers == 1
    })
    .await;
    ctx.producer
        .enqueue(&recorded(1, 400), EnqueueOptions::default())
        .await
        .unwrap();
    ctx.producer
        .enqueue(&recorded(2, 60_000), EnqueueOptions::default())
        .await
        .unwrap();
    ctx.wait_until("both tasks held", Duration::from_secs(10), |s| {
        s.in_flight == 2
    })
    .await;

    let status = Command::new("kill")
        .args(["-TERM", &worker.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = worker.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "worker did not stop after SIGTERM:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "graceful stop exits 0: {exit:?}");

    let s = ctx.stats().await;
    assert_eq!(
        s.done, 1,
        "the short task finished during the grace period: {s:?}"
    );
    assert_eq!(s.waiting, 1, "the long task was handed back: {s:?}");
    assert_eq!(s.in_flight + s.registered_workers, 0, "{s:?}");
    assert_eq!(ctx.runs().await, HashMap::from([(1, 1)]));
}

/// apalis heartbeats only when it polls for work, and it does not poll while every slot is busy:
/// without our own heartbeat, a worker whose tasks all outlast the orphan window (a rate-limit
/// wait, a slow upstream) looks dead to the others, which re-run its tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_worker_whose_tasks_outlast_the_orphan_window_is_not_taken_for_dead() {
    let ctx = setup().await;
    let env = [
        ("COINBEAT_QUEUES__DEFAULTS__HEARTBEAT_SECS", "1".to_owned()),
        (
            "COINBEAT_QUEUES__DEFAULTS__ORPHAN_AFTER_SECS",
            "2".to_owned(),
        ),
        ("COINBEAT_QUEUES__DEFAULTS__CONCURRENCY", "1".to_owned()),
        (
            "COINBEAT_QUEUES__DEFAULTS__POLL_INTERVAL_MS",
            "50".to_owned(),
        ),
    ];
    let a = probe_worker(&ctx.settings, &env);
    let b = probe_worker(&ctx.settings, &env);
    // Two tasks of 5 s (2.5 orphan windows) and one worker slot each.
    let jobs = [recorded(1, 5_000), recorded(2, 5_000)];
    ctx.producer.enqueue_bulk(&jobs).await.unwrap();
    ctx.wait_until("both long tasks done", Duration::from_secs(30), |s| {
        s.done == 2
    })
    .await;
    let runs = ctx.runs().await;
    assert_eq!(runs, HashMap::from([(1, 1), (2, 1)]), "each ran once");
    for worker in [&a, &b] {
        let log = worker.log();
        assert!(!log.contains("result dropped"), "{log}");
        assert!(!log.contains("Heartbeat failed"), "{log}");
    }
    let stats = ctx.stats().await;
    assert_eq!(stats.live_workers, 2, "{stats:?}");
}

#[tokio::test]
async fn a_worker_process_refuses_to_start_on_a_redis_that_evicts_naming_the_policy_and_the_setting()
 {
    let redis = TestRedis::start_with(&["--maxmemory-policy".to_owned(), "allkeys-lru".to_owned()])
        .unwrap();
    let settings = redis.settings();
    let refused = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_probe-worker"))
            .env_remove("COINBEAT_CONFIG")
            .env("REDIS_URL", settings.redis.url.expose())
            .env("COINBEAT_REDIS__KEY_PREFIX", &settings.redis.key_prefix)
            .env("COINBEAT_OPS__ENABLED", "false")
            .output(),
    )
    .await
    .expect("the worker exits rather than runs")
    .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("allkeys-lru"), "{stderr}");
    assert!(
        stderr.contains("COINBEAT_REDIS__ALLOW_EVICTING_POLICY=true"),
        "{stderr}"
    );

    // Accepted knowingly, the same worker starts and runs.
    let mut accepted = probe_worker(
        &settings,
        &[("COINBEAT_REDIS__ALLOW_EVICTING_POLICY", "true".to_owned())],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !accepted.log().contains("worker starting") {
        assert!(
            accepted.child.try_wait().unwrap().is_none(),
            "exited: {}",
            accepted.log()
        );
        assert!(
            std::time::Instant::now() < deadline,
            "never started: {}",
            accepted.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
