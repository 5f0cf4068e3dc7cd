//! The scheduler as real processes against a private Redis: two replicas enqueue exactly one
//! job per tick, a restart after downtime catches up once, a paused entry enqueues nothing, a bad
//! schedule stops the start, and the beat survives Redis going away. No worker runs here, so enqueued tasks stay queued and
//! each one can be traced to its tick through its idempotency (claim) key.

use std::{
    collections::BTreeSet,
    fs::File,
    path::PathBuf,
    process::{Child, Command, ExitStatus},
    time::{Duration, Instant},
};

use coinbeat_shared::{
    Settings,
    jobs::Queue,
    keys::Keys,
    redis_conn,
    schedule_control::{pause, resume},
    schedule_history::{RunTrigger, read_runs},
    schedule_state::{ScheduleRecord, read_schedule_record},
    testing::{TestRedis, unique_prefix},
};
use redis::aio::ConnectionManager;
use serde_json::Value;

/// A `coinbeat-scheduler` process logging JSON to a file the test reads.
struct SchedulerProcess {
    child: Child,
    dir: PathBuf,
}

impl SchedulerProcess {
    fn spawn(settings: &Settings, env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("coinbeat-scheduler-{}", unique_prefix()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_coinbeat-scheduler"))
            .env_remove("COINBEAT_CONFIG")
            .env("REDIS_URL", settings.redis.url.expose())
            .env("COINBEAT_REDIS__KEY_PREFIX", &settings.redis.key_prefix)
            .env("COINBEAT_TELEMETRY__FORMAT", "json")
            .env("RUST_LOG", "info,coinbeat_scheduler=debug")
            // Entries every second or three are far over CoinGecko's 30 a minute; these tests
            // are about ticks, not limits (the plan check has its own test).
            .env("COINBEAT_PLAN__OVER_LIMITS", "warn")
            .envs(env.iter().copied())
            .stdout(File::create(dir.join("stdout.log")).unwrap())
            .stderr(File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .expect("start coinbeat-scheduler");
        Self { child, dir }
    }

    /// The JSON log lines the process wrote so far.
    fn log(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("stdout.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Log lines with this message about the `prices` entry (the default table has others).
    fn messages(&self, message: &str) -> Vec<Value> {
        self.log()
            .into_iter()
            .filter(|l| l["message"] == message && l["entry"] == "prices")
            .collect()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to exit on its own.
    async fn exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "scheduler still running after {within:?}; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then the exit status.
    async fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        self.exit(Duration::from_secs(10)).await
    }
}

impl Drop for SchedulerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One task in the `prices` queue, traced to the tick that claimed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QueuedTask {
    id: String,
    tick_ms: i64,
    enqueued_ms: i64,
}

struct Ctx {
    redis: TestRedis,
    settings: Settings,
    keys: Keys,
    conn: ConnectionManager,
}

async fn setup() -> Ctx {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    Ctx {
        redis,
        settings,
        keys,
        conn,
    }
}

impl Ctx {
    /// Every task in the prices queue, by tick. Panics on a task without a tick claim: the
    /// scheduler must never enqueue without one.
    async fn tasks(&self) -> Vec<QueuedTask> {
        self.try_tasks().await.expect("read the queue")
    }

    async fn try_tasks(&self) -> redis::RedisResult<Vec<QueuedTask>> {
        let k = self.keys.queue(&Queue::Prices.name());
        let mut c = self.conn.clone();
        let ids: Vec<String> = redis::cmd("HKEYS")
            .arg(k.data())
            .query_async(&mut c)
            .await?;
        let mut tasks = Vec::new();
        for id in ids {
            let (claim, enqueued_ms): (String, i64) = redis::cmd("HMGET")
                .arg(k.meta(&id))
                .arg("claim")
                .arg("enqueued_at")
                .query_async(&mut c)
                .await?;
            let tick_ms = claim
                .rsplit_once(':')
                .and_then(|(_, t)| t.parse().ok())
                .unwrap_or_else(|| panic!("task {id} has no tick claim: {claim:?}"));
            // The price tiers' entries (`prices-top`, ...) enqueue to this queue too.
            let tiers = k.tick_claim("prices-", 0);
            if claim.starts_with(tiers.trim_end_matches(":0")) {
                continue;
            }
            assert_eq!(claim, k.tick_claim("prices", tick_ms));
            tasks.push(QueuedTask {
                id,
                tick_ms,
                enqueued_ms,
            });
        }
        tasks.sort_by_key(|t| t.tick_ms);
        Ok(tasks)
    }

    async fn wait_for_tasks(&self, n: usize, within: Duration) -> Vec<QueuedTask> {
        let deadline = Instant::now() + within;
        loop {
            // Errors are retried: the test's own connection breaks when Redis restarts.
            let tasks = self.try_tasks().await.unwrap_or_default();
            if tasks.len() >= n {
                return tasks;
            }
            assert!(
                Instant::now() < deadline,
                "{n} tasks not enqueued within {within:?}; have {tasks:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn record(&self) -> ScheduleRecord {
        read_schedule_record(&self.conn, &self.keys, "prices")
            .await
            .unwrap()
            .expect("a run record")
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn assert_one_task_per_tick(tasks: &[QueuedTask]) {
    let ticks: BTreeSet<i64> = tasks.iter().map(|t| t.tick_ms).collect();
    assert_eq!(
        ticks.len(),
        tasks.len(),
        "two tasks for one tick: {tasks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_scheduler_processes_enqueue_exactly_one_task_per_tick() {
    let ctx = setup().await;
    let env = [("COINBEAT_SCHEDULE__PRICES__CRON", "* * * * * *")];
    let started_ms = now_ms();
    let mut a = SchedulerProcess::spawn(&ctx.settings, &env);
    let mut b = SchedulerProcess::spawn(&ctx.settings, &env);
    tokio::time::sleep(Duration::from_millis(11_500)).await;
    let stopping_ms = now_ms();
    let (exit_a, exit_b) = (a.terminate().await, b.terminate().await);
    // The replicas tick until they have stopped, which on a loaded machine takes a moment.
    let stopped_ms = now_ms();
    assert!(exit_a.success(), "{exit_a:?}\n{}", a.stderr());
    assert!(exit_b.success(), "{exit_b:?}\n{}", b.stderr());

    let tasks = ctx.tasks().await;
    assert_one_task_per_tick(&tasks);
    let ticks: Vec<i64> = tasks.iter().map(|t| t.tick_ms).collect();
    assert!(
        ticks.windows(2).all(|w| w[1] - w[0] == 1_000),
        "one task for every second, none skipped: {ticks:?}"
    );
    // Whole seconds within the run; the first start also catches up the second it started in.
    let whole_seconds =
        |until: i64| (until.div_euclid(1_000) - (started_ms + 999).div_euclid(1_000) + 1) as usize;
    let (at_least, at_most) = (whole_seconds(stopping_ms), whole_seconds(stopped_ms));
    assert!(
        tasks.len() + 1 >= at_least && tasks.len() <= at_most + 1,
        "{} tasks for {at_least} to {at_most} elapsed ticks: {ticks:?}",
        tasks.len()
    );
    assert!(tasks.len() >= 10, "{ticks:?}");

    // Both replicas beat every tick: one enqueued it, the other found it claimed.
    let enqueued = a.messages("enqueued").len() + b.messages("enqueued").len();
    let claimed =
        a.messages("tick already claimed").len() + b.messages("tick already claimed").len();
    assert_eq!(
        enqueued,
        tasks.len(),
        "each task logged once by its replica"
    );
    assert!(
        claimed + 2 >= tasks.len(),
        "the other replica tried each tick too: {claimed} refused claims for {} ticks",
        tasks.len()
    );
    let record = ctx.record().await;
    assert_eq!(record.last_tick_ms, ticks.last().copied());
    assert_eq!(
        record.last_task_id.map(|id| id.to_string()),
        tasks.last().map(|t| t.id.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_three_missed_periods_catches_up_once_not_three_times() {
    const PERIOD_MS: i64 = 3_000;
    let ctx = setup().await;
    let env = [("COINBEAT_SCHEDULE__PRICES__CRON", "*/3 * * * * *")];

    let mut first = SchedulerProcess::spawn(&ctx.settings, &env);
    ctx.wait_for_tasks(2, Duration::from_secs(10)).await;
    assert!(first.terminate().await.success(), "{}", first.stderr());
    let stopped_ms = now_ms();
    let before = ctx.tasks().await;
    let last_before = before.last().unwrap().tick_ms;
    assert_eq!(ctx.record().await.last_tick_ms, Some(last_before));

    // Stay down for more than three periods, then restart early in a period: the next regular
    // tick is then at least 2.4 s away, so a task seen before it can only be the catch-up.
    tokio::time::sleep(Duration::from_millis(3 * PERIOD_MS as u64 + 200)).await;
    while !(100..600).contains(&now_ms().rem_euclid(PERIOD_MS)) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restart_ms = now_ms();
    assert!(restart_ms - stopped_ms > 3 * PERIOD_MS);
    let latest_due = restart_ms - restart_ms.rem_euclid(PERIOD_MS);
    let mut second = SchedulerProcess::spawn(&ctx.settings, &env);
    ctx.wait_for_tasks(before.len() + 1, Duration::from_millis(2_300))
        .await;
    assert!(second.terminate().await.success(), "{}", second.stderr());

    let after = ctx.tasks().await;
    assert_one_task_per_tick(&after);
    let new: Vec<&QueuedTask> = after.iter().filter(|t| t.tick_ms > last_before).collect();
    assert_eq!(
        new.len(),
        1,
        "exactly one task for the missed ticks: {new:?}"
    );
    assert_eq!(
        new[0].tick_ms, latest_due,
        "the latest missed tick is the one run"
    );
    assert!(
        (latest_due - last_before) / PERIOD_MS >= 3,
        "three or more ticks were missed: last {last_before}, due {latest_due}"
    );
    assert!(
        new[0].enqueued_ms - restart_ms < PERIOD_MS,
        "caught up within a period of the restart: {} ms",
        new[0].enqueued_ms - restart_ms
    );
    let record = ctx.record().await;
    assert_eq!(
        record.last_tick_ms,
        Some(latest_due),
        "last_tick_ms advanced"
    );
    assert_eq!(
        record.last_task_id.map(|id| id.to_string()),
        Some(new[0].id.clone())
    );
    assert_eq!(record.next_tick_ms, Some(latest_due + PERIOD_MS));
    let catch_up = second.messages("missed ticks; running the latest once");
    assert_eq!(catch_up.len(), 1, "{:?}", second.log());
    assert!(catch_up[0]["missed"].as_u64().unwrap() >= 3, "{catch_up:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_cron_expression_stops_the_start_with_a_message_naming_the_entry() {
    let settings = Settings::default();
    let mut p = SchedulerProcess::spawn(
        &settings,
        &[("COINBEAT_SCHEDULE__PRICES__CRON", "*/5 * * * *")],
    );
    let status = p.exit(Duration::from_secs(10)).await;
    assert!(!status.success(), "{status:?}");
    let err = p.stderr();
    assert!(err.contains("entry \"prices\""), "{err}");
    assert!(err.contains("5 fields"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_over_the_rate_limits_is_refused_with_the_numbers_or_stretched() {
    let settings = Settings::default();
    // CoinLore at ten calls a minute cannot serve the tiers' 12 pages a minute.
    let slow_coinlore = ("COINBEAT_PROVIDERS__COINLORE__RATE_LIMIT", "10/min");
    let mut p = SchedulerProcess::spawn(
        &settings,
        &[slow_coinlore, ("COINBEAT_PLAN__OVER_LIMITS", "refuse")],
    );
    let status = p.exit(Duration::from_secs(10)).await;
    assert!(!status.success(), "{status:?}");
    let err = p.stderr();
    assert!(
        err.contains("does not fit the providers' rate limits"),
        "{err}"
    );
    assert!(
        err.contains("coinlore 10/min: calls would wait up to"),
        "{err}"
    );

    // Stretched: the beat starts, and says which tiers it slowed down.
    let ctx = setup().await;
    let mut p = SchedulerProcess::spawn(
        &ctx.settings,
        &[slow_coinlore, ("COINBEAT_PLAN__OVER_LIMITS", "stretch")],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let stretched = loop {
        let lines: Vec<Value> = p
            .log()
            .into_iter()
            .filter(|l| l["message"] == "price tier stretched to fit the providers' limits")
            .collect();
        if lines.len() >= 2 || !p.is_running() || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(p.is_running(), "{}", p.stderr());
    let major = stretched
        .iter()
        .find(|l| l["tier"] == "major")
        .unwrap_or_else(|| panic!("{stretched:?}"));
    assert_eq!(major["configured_every_secs"], 120);
    assert!(major["every_secs"].as_u64().unwrap() > 120, "{major}");
    assert!(p.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_args_stop_the_start_with_a_message_naming_the_entry() {
    let settings = Settings::default();
    let mut p = SchedulerProcess::spawn(
        &settings,
        &[
            ("COINBEAT_SCHEDULE__NIGHTLY__CRON", "0 0 3 * * *"),
            ("COINBEAT_SCHEDULE__NIGHTLY__KIND", "prices"),
            (
                "COINBEAT_SCHEDULE__NIGHTLY__ARGS__SYMBOLS",
                r#"["BTC", "NOPE"]"#,
            ),
        ],
    );
    let status = p.exit(Duration::from_secs(10)).await;
    assert!(!status.success(), "{status:?}");
    let err = p.stderr();
    assert!(err.contains("entry \"nightly\""), "{err}");
    assert!(err.contains("NOPE"), "{err}");
    assert!(
        !err.contains("entry \"prices\""),
        "the good entry is not blamed: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_beat_survives_a_redis_restart_and_keeps_enqueueing() {
    let mut ctx = setup().await;
    let mut p = SchedulerProcess::spawn(
        &ctx.settings,
        &[("COINBEAT_SCHEDULE__PRICES__CRON", "* * * * * *")],
    );
    ctx.wait_for_tasks(2, Duration::from_secs(10)).await;

    // A crash-restart: every key is gone, every connection breaks.
    ctx.redis.restart();
    let tasks = ctx.wait_for_tasks(3, Duration::from_secs(20)).await;
    assert!(p.is_running(), "{}", p.stderr());
    assert_one_task_per_tick(&tasks);
    assert!(p.terminate().await.success(), "{}", p.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_started_before_its_redis_catches_up_once_redis_answers() {
    let mut ctx = setup().await;
    ctx.redis.kill();
    let mut p = SchedulerProcess::spawn(
        &ctx.settings,
        &[("COINBEAT_SCHEDULE__PRICES__CRON", "0 0 * * * *")],
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(p.is_running(), "{}", p.stderr());

    let hour_start = |ms: i64| ms - ms.rem_euclid(3_600_000);
    let restarted = hour_start(now_ms());
    ctx.redis.restart();
    let tasks = ctx.wait_for_tasks(1, Duration::from_secs(20)).await;
    let caught_up = hour_start(now_ms());
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    // The latest tick as of the catch-up, which ran between the restart and now
    // (the same hour unless the test straddled one).
    assert!(
        (restarted..=caught_up).contains(&tasks[0].tick_ms)
            && hour_start(tasks[0].tick_ms) == tasks[0].tick_ms,
        "the hourly entry's latest tick, caught up: {} not an hour start in {restarted}..={caught_up}",
        tasks[0].tick_ms
    );
    assert!(p.terminate().await.success(), "{}", p.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_entry_enqueues_nothing_over_several_ticks_and_runs_again_once_resumed() {
    let ctx = setup().await;
    let env = [("COINBEAT_SCHEDULE__PRICES__CRON", "* * * * * *")];
    // Paused before the first start: not even the first-start catch-up runs it.
    pause(&ctx.conn, &ctx.keys, &ctx.settings, "prices")
        .await
        .unwrap();
    let mut p = SchedulerProcess::spawn(&ctx.settings, &env);
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert!(p.is_running(), "{}", p.stderr());
    assert_eq!(ctx.tasks().await, [], "nothing enqueued while paused");
    assert!(
        p.messages("paused; tick skipped").len() >= 2,
        "the beat fired and skipped: {:?}",
        p.log()
    );
    assert_eq!(
        p.messages("enqueued").len(),
        0,
        "no catch-up either: {:?}",
        p.log()
    );

    let resumed_ms = resume(&ctx.conn, &ctx.keys, &ctx.settings, "prices")
        .await
        .unwrap()
        .resumed_ms
        .unwrap();
    let tasks = ctx.wait_for_tasks(2, Duration::from_secs(5)).await;
    assert_one_task_per_tick(&tasks);
    // A tick's handler reads the pause state within milliseconds of its time; nothing from the
    // paused seconds is replayed.
    assert!(
        tasks.iter().all(|t| t.tick_ms > resumed_ms - 20),
        "only ticks after the resume ({resumed_ms}) run: {tasks:?}"
    );
    // The replica that enqueued a tick adds it to the history right after: wait for both.
    let deadline = Instant::now() + Duration::from_secs(5);
    let runs = loop {
        let runs = read_runs(&ctx.conn, &ctx.keys, "prices", 10).await.unwrap();
        if runs.len() >= 2 || Instant::now() > deadline {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(runs.len() >= 2, "{runs:?}");
    assert!(
        runs.iter().all(|r| r.trigger == RunTrigger::Tick),
        "{runs:?}"
    );
    assert!(
        runs.windows(2).all(|w| w[0].tick_ms > w[1].tick_ms),
        "newest first: {runs:?}"
    );
    // Read after the history, so the newest run's task is among them.
    let tasks = ctx.tasks().await;
    assert!(
        tasks.iter().any(|t| t.id == runs[0].task_id.to_string()),
        "the history names the enqueued task: {runs:?} {tasks:?}"
    );

    // Paused again mid-run: once a tick in progress has settled, the count stays put.
    pause(&ctx.conn, &ctx.keys, &ctx.settings, "prices")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let settled = ctx.tasks().await.len();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(ctx.tasks().await.len(), settled, "still paused");
    assert!(p.terminate().await.success(), "{}", p.stderr());
}
