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
    testing::TestRedis,
};
use redis::aio::ConnectionManager;

#[path = "common/redis.rs"]
mod redis_helpers;
#[path = "common/worker_process.rs"]
mod worker_process;

use redis_helpers::producer;
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
    let (conn, keys, producer) = producer(&settings).await;
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
    // Some of them delayed, so the delayed set is part of what must drain.
    const DELAYED: u64 = 1_000;
    let ctx = setup().await;
    let jobs: Vec<_> = (0..N - DELAYED).map(|i| recorded(i, 0)).collect();
    ctx.producer.enqueue_bulk(&jobs).await.unwrap();
    for i in N - DELAYED..N {
        let later = EnqueueOptions {
            delay: Some(Duration::from_secs(2)),
            ..EnqueueOptions::default()
        };
        ctx.producer.enqueue(&recorded(i, 0), later).await.unwrap();
    }
    let before = ctx.stats().await;
    assert_eq!(
        (before.waiting, before.scheduled_future),
        (N - DELAYED, DELAYED),
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

    // Each task also notes when it starts, so a start the kill did not cause shows.
    let jobs: Vec<_> = (0..20)
        .map(|i| ProbeJob {
            stamp: true,
            ..recorded(i, 1_500)
        })
        .collect();
    ctx.producer.enqueue_bulk(&jobs).await.unwrap();

    // Wait until each worker holds tasks, then find A's set by its pid in the worker name.
    let k = ctx.keys.queue(&ProbeJob::queue());
    let a_pid = format!("-{}-", a.child.id());
    let mut c = ctx.conn.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
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
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both workers never held tasks: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Once nothing waits, A can fetch no more: what it holds then is what the kill takes.
    ctx.wait_until("every task fetched", Duration::from_secs(5), |s| {
        s.waiting == 0
    })
    .await;
    let a_name = {
        let workers: Vec<String> = redis::cmd("ZRANGE")
            .arg(k.workers())
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .unwrap();
        workers.into_iter().find(|w| w.contains(&a_pid)).unwrap()
    };
    let a_held: Vec<String> = redis::cmd("SMEMBERS")
        .arg(k.inflight(&a_name))
        .query_async(&mut c)
        .await
        .unwrap();
    // Kill only once A has started what it holds (a fetched task notes its start at once).
    let data: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(k.data())
        .query_async(&mut c)
        .await
        .unwrap();
    let seq_of = |id: &String| -> u64 {
        let payload: serde_json::Value = serde_json::from_str(&data[id]).unwrap();
        payload["seq"].as_u64().unwrap()
    };
    let killed: std::collections::HashSet<u64> = a_held.iter().map(seq_of).collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let starts = starts(&ctx).await;
        if killed.iter().all(|seq| starts.contains_key(seq)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "A never started its tasks: {starts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    // Starts: a task the killed worker held started twice (there, then on the other worker);
    // every other task exactly once.
    let starts = starts(&ctx).await;
    for seq in 0..20 {
        let want = if killed.contains(&seq) { 2 } else { 1 };
        assert_eq!(
            starts.get(&seq).copied().unwrap_or(0),
            want,
            "task {seq} (held by the killed worker: {}): starts {starts:?}",
            killed.contains(&seq)
        );
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sigkilled_incarnations_leave_no_metadata_after_the_sweep() {
    let ctx = setup().await;
    let env = [
        ("COINBEAT_QUEUES__DEFAULTS__HEARTBEAT_SECS", "1".to_string()),
        ("COINBEAT_QUEUES__DEFAULTS__ORPHAN_AFTER_SECS", "2".into()),
    ];
    let k = ctx.keys.queue(&ProbeJob::queue());
    let metadata = async || -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}:*", k.worker_metadata_prefix()))
            .query_async(&mut ctx.conn.clone())
            .await
            .unwrap()
    };
    for killed in 1..=3 {
        let mut worker = probe_worker(&ctx.settings, &env);
        ctx.wait_until("the worker registered", Duration::from_secs(10), |s| {
            s.registered_workers == killed
        })
        .await;
        worker.kill9();
        assert_eq!(
            metadata().await.len() as u64,
            killed,
            "each incarnation leaves one"
        );
    }
    // A live worker's orphan recovery takes the dead ones out of the registry, not their
    // metadata.
    let live = probe_worker(&ctx.settings, &env);
    ctx.wait_until(
        "only the live worker registered",
        Duration::from_secs(15),
        |s| s.registered_workers == 1,
    )
    .await;
    assert_eq!(metadata().await.len(), 4, "{:?}", metadata().await);

    let swept = coinbeat_shared::queue::sweep_dead_workers(
        &ctx.conn,
        &ctx.keys,
        &ProbeJob::queue(),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    assert_eq!(swept, 3);
    let left = metadata().await;
    assert_eq!(left.len(), 1, "only the live worker's: {left:?}");
    assert!(
        left[0].contains(&format!("-{}-", live.child.id())),
        "{left:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_cut_off_by_connection_resets_are_sent_again_and_every_task_ends_done() {
    const N: u64 = 400;
    const ORPHAN_SECS: u64 = 3;
    let ctx = setup().await;
    let worker = probe_worker(
        &ctx.settings,
        &[
            ("COINBEAT_QUEUES__DEFAULTS__CONCURRENCY", "16".to_string()),
            ("COINBEAT_QUEUES__DEFAULTS__HEARTBEAT_SECS", "1".into()),
            // The ack retries are logged at debug.
            ("RUST_LOG", "info,coinbeat_shared=debug".into()),
            (
                "COINBEAT_QUEUES__DEFAULTS__ORPHAN_AFTER_SECS",
                ORPHAN_SECS.to_string(),
            ),
        ],
    );
    ctx.wait_until("the worker registered", Duration::from_secs(10), |s| {
        s.registered_workers == 1
    })
    .await;
    let jobs: Vec<_> = (0..N)
        .map(|seq| ProbeJob {
            seq,
            sleep_ms: 10,
            ..ProbeJob::default()
        })
        .collect();
    ctx.producer.enqueue_bulk(&jobs).await.unwrap();

    // Every 30 ms, every connection but this test's own is reset, acks in flight included.
    let stop_killing = tokio_util::sync::CancellationToken::new();
    let killer = {
        let (mut c, stop) = (ctx.conn.clone(), stop_killing.clone());
        tokio::spawn(async move {
            let mut resets = 0u64;
            while !stop.is_cancelled() {
                let killed: redis::RedisResult<u64> = redis::cmd("CLIENT")
                    .arg("KILL")
                    .arg("TYPE")
                    .arg("normal")
                    .arg("SKIPME")
                    .arg("yes")
                    .query_async(&mut c)
                    .await;
                resets += killed.unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            resets
        })
    };
    let drained = ctx
        .wait_until(
            "every task done",
            Duration::from_secs(N * 10 / 16 / 1_000 + ORPHAN_SECS + 20),
            |s| s.done + s.dead == N,
        )
        .await;
    stop_killing.cancel();
    let resets = killer.await.unwrap();
    assert!(resets >= 10, "the test reset connections: {resets}");
    assert_eq!(drained.dead, 0, "{drained:?}");
    // Nobody is shown holding a task any more.
    let k = ctx.keys.queue(&ProbeJob::queue());
    let sets: Vec<String> = redis::cmd("KEYS")
        .arg(k.inflight_pattern())
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    for set in sets {
        let held: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&set)
            .query_async(&mut ctx.conn.clone())
            .await
            .unwrap();
        assert!(held.is_empty(), "{set} still holds {held:?}");
    }
    let log = worker.log();
    assert!(
        log.contains("ack failed; sending it again"),
        "the resets cut off acks, which were sent again:\n{log}"
    );
}

/// seq → how many times a stamped probe task started.
async fn starts(ctx: &Ctx) -> HashMap<u64, u64> {
    let stamps: Vec<String> = redis::cmd("LRANGE")
        .arg(ctx.keys.probe_starts())
        .arg(0)
        .arg(-1)
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    let mut starts: HashMap<u64, u64> = HashMap::new();
    for stamp in &stamps {
        let seq = stamp.split(':').next().unwrap().parse().unwrap();
        *starts.entry(seq).or_default() += 1;
    }
    starts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_a_minute_behind_and_ahead_never_take_each_other_for_dead() {
    const ORPHAN_SECS: u64 = 3;
    const N: u64 = 20;
    let ctx = setup().await;
    // Each worker runs half the tasks at most, so both hold some (with room for all of them,
    // the first to fetch could take every task before the other fetched any).
    let env = [
        (
            "COINBEAT_QUEUES__DEFAULTS__CONCURRENCY",
            (N / 2).to_string(),
        ),
        ("COINBEAT_QUEUES__DEFAULTS__FETCH_BATCH", "10".into()),
        ("COINBEAT_QUEUES__DEFAULTS__HEARTBEAT_SECS", "1".into()),
        (
            "COINBEAT_QUEUES__DEFAULTS__ORPHAN_AFTER_SECS",
            ORPHAN_SECS.to_string(),
        ),
    ];
    let binary = env!("CARGO_BIN_EXE_probe-worker");
    let mut behind = WorkerProcess::spawn_skewed(binary, "-60s", &ctx.settings, &env);
    let ahead = WorkerProcess::spawn_skewed(binary, "+60s", &ctx.settings, &env);
    ctx.wait_until("both workers registered", Duration::from_secs(10), |s| {
        s.registered_workers == 2
    })
    .await;

    // Tasks longer than two orphan windows, shared by the two.
    let jobs: Vec<_> = (0..N)
        .map(|seq| ProbeJob {
            stamp: true,
            ..recorded(seq, (ORPHAN_SECS * 2 + 1) * 1_000)
        })
        .collect();
    ctx.producer.enqueue_bulk(&jobs).await.unwrap();
    ctx.wait_until("every task fetched", Duration::from_secs(10), |s| {
        s.waiting == 0 && s.in_flight == N
    })
    .await;
    let k = ctx.keys.queue(&ProbeJob::queue());
    let mut c = ctx.conn.clone();
    let behind_name = {
        let workers: Vec<String> = redis::cmd("ZRANGE")
            .arg(k.workers())
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .unwrap();
        let pid = format!("-{}-", behind.child.id());
        workers.into_iter().find(|w| w.contains(&pid)).unwrap()
    };
    let held: Vec<String> = redis::cmd("SMEMBERS")
        .arg(k.inflight(&behind_name))
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(!held.is_empty(), "the worker behind holds tasks");
    // Two orphan windows pass: neither is taken for dead by the other.
    tokio::time::sleep(Duration::from_secs(ORPHAN_SECS * 2)).await;
    let so_far = starts(&ctx).await;
    assert!(
        so_far.values().all(|n| *n == 1),
        "a task started twice while both workers were alive: {so_far:?}"
    );
    assert_eq!(ctx.stats().await.registered_workers, 2);

    // The worker behind dies: its tasks start again on the other within the window + 5 s.
    let data: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(k.data())
        .query_async(&mut c)
        .await
        .unwrap();
    let killed: Vec<u64> = held
        .iter()
        .map(|id| {
            let payload: serde_json::Value = serde_json::from_str(&data[id]).unwrap();
            payload["seq"].as_u64().unwrap()
        })
        .collect();
    let killed_at = Instant::now();
    behind.kill9();
    loop {
        let now = starts(&ctx).await;
        if killed.iter().all(|seq| now.get(seq) == Some(&2)) {
            break;
        }
        assert!(
            killed_at.elapsed() <= Duration::from_secs(ORPHAN_SECS + 5),
            "the dead worker's tasks {killed:?} did not restart within {} s: {now:?}",
            ORPHAN_SECS + 5
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.wait_until("every task done", Duration::from_secs(30), |s| s.done == N)
        .await;
    let finally = starts(&ctx).await;
    for seq in 0..N {
        let want = if killed.contains(&seq) { 2 } else { 1 };
        assert_eq!(finally.get(&seq), Some(&want), "task {seq}: {finally:?}");
    }
    drop(ahead);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_record_is_unreadable_is_dead_with_the_reason_and_the_rest_of_its_batch_runs()
{
    const N: u64 = 200;
    let ctx = setup().await;
    let jobs: Vec<_> = (0..N).map(|i| recorded(i, 0)).collect();
    let ids = ctx.producer.enqueue_bulk(&jobs).await.unwrap();
    // As eviction on a managed Redis would: one meta hash gone, one payload gone.
    let k = ctx.keys.queue(&ProbeJob::queue());
    let (no_meta, no_payload) = (ids[10].to_string(), ids[150].to_string());
    let mut c = ctx.conn.clone();
    let _: () = redis::pipe()
        .del(k.meta(&no_meta))
        .hdel(k.data(), &no_payload)
        .query_async(&mut c)
        .await
        .unwrap();
    let env = [
        ("COINBEAT_QUEUES__DEFAULTS__CONCURRENCY", "16".to_string()),
        ("COINBEAT_QUEUES__DEFAULTS__FETCH_BATCH", "64".into()),
    ];
    let a = probe_worker(&ctx.settings, &env);
    let b = probe_worker(&ctx.settings, &env);
    let s = ctx
        .wait_until("the queue drained", Duration::from_secs(15), |s| {
            s.done + s.dead == N
        })
        .await;
    assert_eq!((s.done, s.dead), (N - 2, 2), "{s:?}");
    for (id, reason) in [
        (&no_meta, "its meta record is missing"),
        (&no_payload, "its payload is missing"),
    ] {
        let (status, error): (String, String) = redis::cmd("HMGET")
            .arg(k.meta(id))
            .arg("status")
            .arg("last_error")
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(status, "Killed");
        assert!(error.contains(reason), "{error}");
    }
    for w in [&a, &b] {
        let log = w.log();
        assert!(
            !log.contains("worker stopped by an error"),
            "a bad record stopped a worker:\n{log}"
        );
    }
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
