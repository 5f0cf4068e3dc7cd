//! The ops commands against a real, private redis-server: `enqueue`, `task`, `queues`,
//! `schedules`, and the operator toolkit (`workers`, `purge`, `dead`, `schedule`), with `--json`
//! for scripts and clear errors for bad input.

use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

use coinbeat_shared::{
    Settings,
    catalogue::{CatalogueCoin, CatalogueStore},
    domain::CoinId,
    jobs::{PricesJob, Queue},
    keys::Keys,
    queue::{
        EnqueueOptions, JobContext, JobError, Producer, TaskId, TaskStatus, WorkerRuntime,
        lookup_task,
    },
    redis_conn,
    testing::TestRedis,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn coinbeat(settings: &Settings, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coinbeat"))
        .args(args)
        .env_remove("COINBEAT_CONFIG")
        .env("REDIS_URL", settings.redis.url.expose())
        .env("COINBEAT_REDIS__KEY_PREFIX", &settings.redis.key_prefix)
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn enqueue_then_task_then_queues_round_trip_as_json() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let enqueued = json_of(&coinbeat(
        &settings,
        &["enqueue", "prices", "--symbols", "btc,eth", "--json"],
    ));
    assert_eq!(enqueued["queue"], "prices");
    let id = enqueued["id"].as_str().unwrap();

    let task = json_of(&coinbeat(&settings, &["task", id, "--json"]));
    assert_eq!(task["id"], id);
    assert_eq!(task["status"], "pending");
    assert_eq!(
        task["payload"]["symbols"],
        serde_json::json!(["BTC", "ETH"])
    );

    let queues = json_of(&coinbeat(&settings, &["queues", "--json"]));
    let queues = queues.as_array().unwrap();
    assert_eq!(queues.len(), 9);
    assert!(queues.iter().any(|q| q["queue"] == "alerts"), "{queues:?}");
    let prices = queues.iter().find(|q| q["queue"] == "prices").unwrap();
    assert_eq!(prices["waiting"], 1);

    let human = coinbeat(&settings, &["task", id]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("pending"));
}

#[test]
fn bad_input_is_refused_with_a_message_and_nothing_is_enqueued() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let cases: [(&[&str], &str); 4] = [
        (&["enqueue", "nope"], "unknown job kind"),
        (&["enqueue", "prices", "--symbols", "NOTACOIN"], "NOTACOIN"),
        (
            &["enqueue", "prices", "--args", "{not json"],
            "not valid JSON",
        ),
        (&["task", "not-a-ulid"], "not a task id"),
    ];
    for (args, expected) in cases {
        let output = coinbeat(&settings, args);
        assert!(!output.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let unknown = coinbeat(&settings, &["task", "01J0000000000000000000000A"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no task"));
    let queues = json_of(&coinbeat(&settings, &["queues", "--json"]));
    assert!(queues.as_array().unwrap().iter().all(|q| q["waiting"] == 0));
}

#[test]
fn with_no_redis_configured_the_ops_commands_use_the_private_one_of_coinbeat_up_here() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let here = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(here.path().join(".coinbeat/redis")).unwrap();
    std::os::unix::fs::symlink(
        redis.socket(),
        here.path().join(".coinbeat/redis/redis.sock"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_coinbeat"))
            .args(args)
            .current_dir(here.path())
            .env_remove("REDIS_URL")
            .env_remove("COINBEAT_REDIS__URL")
            .env_remove("COINBEAT_CONFIG")
            .env("COINBEAT_REDIS__KEY_PREFIX", &settings.redis.key_prefix)
            .output()
            .unwrap()
    };
    let enqueued = json_of(&run(&["enqueue", "prices", "--json"]));
    let id = enqueued["id"].as_str().unwrap();
    let task = json_of(&run(&["task", id, "--json"]));
    assert_eq!(task["status"], "pending");
}

#[test]
fn schedules_lists_the_table_with_its_run_records() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let rows = json_of(&coinbeat(&settings, &["schedules", "--json"]));
    let prices = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "prices")
        .unwrap();
    assert_eq!(prices["cron"], "0 */10 * * * *");
    assert_eq!(prices["kind"], "prices");
    assert!(prices["last_tick_ms"].is_null(), "never ran here: {prices}");
    // Each price tier is an entry of its own, with the interval it was configured with.
    let top = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "prices-top")
        .unwrap();
    assert_eq!(top["cron"], "*/30 * * * * *");
    assert_eq!(top["args"], serde_json::json!({"tier": "top"}));
    assert_eq!(top["tier"]["every_secs"], 30, "{top}");
    assert_eq!(top["tier"]["stretched"], false, "{top}");

    // With CoinLore at ten calls a minute and `over_limits = "stretch"`, the CoinLore tiers run
    // less often, and both intervals show.
    let stretch = [
        ("COINBEAT_PROVIDERS__COINLORE__RATE_LIMIT", "10/min"),
        ("COINBEAT_PLAN__OVER_LIMITS", "stretch"),
    ];
    let rows = json_of(&coinbeat_with(
        &settings,
        &["schedules", "--json"],
        &stretch,
    ));
    let major = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "prices-major")
        .unwrap();
    assert_eq!(major["tier"]["stretched"], true, "{major}");
    assert_eq!(major["tier"]["configured_every_secs"], 120, "{major}");
    let every = major["tier"]["every_secs"].as_u64().unwrap();
    assert!(every > 120, "{major}");
    assert_eq!(
        major["cron"],
        format!("5 */{} * * * *", every / 60),
        "{major}"
    );
    let text = coinbeat_with(&settings, &["schedules"], &stretch);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "stretched to fit the rate limits: every {every} s (configured 120 s)"
        )),
        "{text}"
    );
}

fn coinbeat_with(settings: &Settings, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coinbeat"))
        .args(args)
        .env_remove("COINBEAT_CONFIG")
        .env("REDIS_URL", settings.redis.url.expose())
        .env("COINBEAT_REDIS__KEY_PREFIX", &settings.redis.key_prefix)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stderr_of(output: &Output) -> String {
    assert!(!output.status.success(), "should fail: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A real prices worker, in-process, whose handler fails every task permanently; stopped (and
/// deregistered) on drop of the returned token's guard.
fn failing_prices_worker(settings: &Settings, rt: &tokio::runtime::Runtime) -> CancellationToken {
    let settings = settings.clone();
    let stop = CancellationToken::new();
    let s = stop.clone();
    rt.spawn(async move {
        let conn = redis_conn::connect(&settings.redis).await.unwrap();
        let keys = Keys::new(settings.redis.key_prefix.clone());
        let mut queue = settings.queues.for_queue(&Queue::Prices.name());
        queue.max_retries = 0;
        queue.poll_interval_ms = 20;
        let runtime = WorkerRuntime::new(
            redis_conn::client(&settings.redis).unwrap(),
            conn,
            keys,
            queue,
        );
        let handler = |_job: PricesJob, _ctx: JobContext| async {
            Err(JobError::permanent("coingecko refused the key (401)"))
        };
        runtime.run(handler, s).await.unwrap();
    });
    stop
}

/// Enqueues `n` prices tasks and lets a failing worker kill them; returns their ids.
fn dead_prices_tasks(settings: &Settings, n: usize) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stop = failing_prices_worker(settings, &rt);
    rt.block_on(async {
        let conn = redis_conn::connect(&settings.redis).await.unwrap();
        let keys = Keys::new(settings.redis.key_prefix.clone());
        let producer = Producer::new(conn.clone(), keys.clone(), settings.queues.clone());
        let mut ids = Vec::new();
        for _ in 0..n {
            let id: TaskId = producer
                .enqueue(&PricesJob::default(), EnqueueOptions::default())
                .await
                .unwrap();
            ids.push(id);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for id in &ids {
            loop {
                let t = lookup_task(&conn, &keys, &Queue::Prices.name(), *id)
                    .await
                    .unwrap();
                if t.is_some_and(|t| t.status == TaskStatus::Dead) {
                    break;
                }
                assert!(Instant::now() < deadline, "task {id} never died");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        stop.cancel();
        tokio::time::sleep(Duration::from_millis(200)).await;
        ids.iter().map(ToString::to_string).collect()
    })
}

#[test]
fn dead_letters_are_listed_shown_retried_and_purged_with_json_for_scripts() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let ids = dead_prices_tasks(&settings, 3);

    let page = json_of(&coinbeat(&settings, &["dead", "list", "prices", "--json"]));
    assert_eq!(page["total"], 3);
    assert_eq!(page["tasks"].as_array().unwrap().len(), 3);
    assert_eq!(
        page["tasks"][0]["last_error"],
        "coingecko refused the key (401)"
    );
    let one = json_of(&coinbeat(
        &settings,
        &[
            "dead", "list", "prices", "--limit", "1", "--offset", "1", "--json",
        ],
    ));
    assert_eq!(one["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(one["tasks"][0]["id"], page["tasks"][1]["id"]);
    let human = coinbeat(&settings, &["dead", "list", "prices"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("3 dead tasks in queue prices"));

    let shown = json_of(&coinbeat(
        &settings,
        &["dead", "show", "prices", &ids[0], "--json"],
    ));
    assert_eq!(shown["status"], "dead");
    assert_eq!(shown["payload"], serde_json::json!({}));
    assert_eq!(shown["attempts"], 1);

    let retried = json_of(&coinbeat(
        &settings,
        &["dead", "retry", "prices", &ids[0], "--json"],
    ));
    assert_eq!(retried["status"], "pending");
    let task = json_of(&coinbeat(&settings, &["task", &ids[0], "--json"]));
    assert_eq!(
        (task["status"].as_str(), task["attempts"].as_u64()),
        (Some("pending"), Some(0))
    );
    let again = stderr_of(&coinbeat(&settings, &["dead", "retry", "prices", &ids[0]]));
    assert!(again.contains("is pending, not dead"), "{again}");
    let unknown = stderr_of(&coinbeat(
        &settings,
        &["dead", "show", "prices", "01J0000000000000000000000A"],
    ));
    assert!(unknown.contains("no task"), "{unknown}");

    let refused = stderr_of(&coinbeat(&settings, &["dead", "purge", "prices", "--all"]));
    assert!(refused.contains("would delete 2 dead tasks"), "{refused}");
    let purged = json_of(&coinbeat(
        &settings,
        &["dead", "purge", "prices", &ids[1], "--json"],
    ));
    assert_eq!(purged["purged"], 1);
    assert!(
        !coinbeat(&settings, &["task", &ids[1]]).status.success(),
        "gone"
    );

    let all = json_of(&coinbeat(
        &settings,
        &["dead", "retry", "prices", "--all", "--json"],
    ));
    assert_eq!(all["retried"], 1);
    let page = json_of(&coinbeat(&settings, &["dead", "list", "prices", "--json"]));
    assert_eq!(page["total"], 0);
    let queues = json_of(&coinbeat(&settings, &["queues", "--json"]));
    let prices = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "prices")
        .unwrap();
    assert_eq!(
        (prices["waiting"].as_u64(), prices["dead"].as_u64()),
        (Some(2), Some(0))
    );

    let needs_id = stderr_of(&coinbeat(&settings, &["dead", "retry", "prices"]));
    assert!(needs_id.contains("--all"), "{needs_id}");
}

#[test]
fn purge_only_counts_without_yes_and_deletes_the_waiting_tasks_with_it() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    for _ in 0..2 {
        json_of(&coinbeat(&settings, &["enqueue", "prices", "--json"]));
    }
    let refused = stderr_of(&coinbeat(&settings, &["purge", "prices"]));
    assert!(refused.contains("would delete 2 waiting"), "{refused}");
    assert!(refused.contains("--yes"), "{refused}");
    let waiting = |settings: &Settings| {
        let queues = json_of(&coinbeat(settings, &["queues", "--json"]));
        queues
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["queue"] == "prices")
            .unwrap()["waiting"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(waiting(&settings), 2, "nothing deleted without --yes");

    let report = json_of(&coinbeat(
        &settings,
        &["purge", "prices", "--yes", "--json"],
    ));
    assert_eq!(report["waiting"], 2);
    assert_eq!(report["delayed"], 0);
    assert_eq!(waiting(&settings), 0);
    let unknown = stderr_of(&coinbeat(&settings, &["purge", "nope", "--yes"]));
    assert!(unknown.contains("unknown queue \"nope\""), "{unknown}");
}

#[test]
fn schedule_entries_are_paused_resumed_and_run_now_with_their_runs_in_the_history() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let paused = json_of(&coinbeat(
        &settings,
        &["schedule", "pause", "prices", "--json"],
    ));
    assert_eq!(paused["paused"], true);
    let rows = json_of(&coinbeat(&settings, &["schedules", "--json"]));
    let row = |rows: &Value, name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(row(&rows, "prices")["paused"], true);
    assert_eq!(row(&rows, "market")["paused"], false);

    let run = json_of(&coinbeat(
        &settings,
        &["schedule", "run", "prices", "--json"],
    ));
    assert_eq!(run["queue"], "prices");
    let id = run["task_id"].as_str().unwrap();
    let task = json_of(&coinbeat(&settings, &["task", id, "--json"]));
    assert_eq!(task["status"], "pending");
    let history = json_of(&coinbeat(
        &settings,
        &["schedule", "history", "prices", "--json"],
    ));
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["trigger"], "manual");
    assert_eq!(history[0]["task_id"], id);
    assert_eq!(history[0]["outcome"], "pending");

    let resumed = json_of(&coinbeat(
        &settings,
        &["schedule", "resume", "prices", "--json"],
    ));
    assert_eq!(resumed["paused"], false);
    assert!(resumed["resumed_ms"].as_i64().unwrap() >= paused["paused_ms"].as_i64().unwrap());
    let unknown = stderr_of(&coinbeat(&settings, &["schedule", "pause", "nope"]));
    assert!(
        unknown.contains("no schedule entry named \"nope\""),
        "{unknown}"
    );
}

#[test]
fn workers_lists_a_running_worker_with_its_host_and_pid() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let none = json_of(&coinbeat(&settings, &["workers", "--json"]));
    assert_eq!(none, serde_json::json!([]));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let stop = failing_prices_worker(&settings, &rt);
    let deadline = Instant::now() + Duration::from_secs(10);
    let workers = loop {
        let workers = json_of(&coinbeat(&settings, &["workers", "--json"]));
        if !workers.as_array().unwrap().is_empty() {
            break workers;
        }
        assert!(Instant::now() < deadline, "the worker never registered");
        std::thread::sleep(Duration::from_millis(50));
    };
    let w = &workers[0];
    assert_eq!(w["queue"], "prices");
    assert_eq!(w["pid"], std::process::id());
    assert!(w["host"].as_str().is_some_and(|h| !h.is_empty()), "{w}");
    assert!(w["started_at"].is_u64(), "{w}");
    assert_eq!(w["in_flight"], 0);
    assert_eq!(w["live"], true);
    let human = coinbeat(&settings, &["workers"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains(w["name"].as_str().unwrap()));
    stop.cancel();
}

#[test]
fn streams_shows_each_shard_with_its_phase_source_and_holder() {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    let none = json_of(&coinbeat(&settings, &["streams", "--json"]));
    assert_eq!(none, serde_json::json!([]));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(coinbeat_sim::start(coinbeat_sim::SimConfig::default()))
        .unwrap();
    settings.providers.binance.ws_url = sim.binance_stream_url();
    settings.providers.coincap.ws_url = sim.coincap_stream_url();
    settings.streams.shard_size = 8;
    let stop = CancellationToken::new();
    let worker = rt.spawn(coinbeat_workers::stream::run_on(
        settings.clone(),
        None,
        stop.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    let shards = loop {
        let shards = json_of(&coinbeat(&settings, &["streams", "--json"]));
        let all = shards.as_array().unwrap();
        if all.len() == 2 && all.iter().all(|s| s["phase"] == "streaming") {
            break shards;
        }
        assert!(Instant::now() < deadline, "never streaming: {shards}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Twelve tracked symbols in shards of eight.
    assert_eq!(shards[0]["symbols"], 8);
    assert_eq!(shards[1]["symbols"], 4);
    assert_eq!(shards[0]["source"], "binance-ws");
    let holder = shards[0]["holder"].as_str().unwrap();
    assert!(holder.contains(&std::process::id().to_string()), "{holder}");
    let human = String::from_utf8_lossy(&coinbeat(&settings, &["streams"]).stdout).into_owned();
    assert!(
        human.contains("streaming") && human.contains("binance-ws") && human.contains(holder),
        "{human}"
    );
    stop.cancel();
    rt.block_on(worker).unwrap().unwrap();
}

#[test]
fn coins_searches_the_catalogue_best_ranked_first() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let empty = coinbeat(&settings, &["coins"]);
    assert!(empty.status.success());
    assert!(
        String::from_utf8_lossy(&empty.stdout).contains("no coin catalogue yet"),
        "{}",
        String::from_utf8_lossy(&empty.stdout)
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let conn = redis_conn::connect(&settings.redis).await.unwrap();
        let store = CatalogueStore::new(conn, Keys::new(settings.redis.key_prefix.clone()));
        let coin = |id: &str, symbol: &str, name: &str, rank| CatalogueCoin {
            id: CoinId::parse(id).unwrap(),
            symbol: symbol.into(),
            name: name.into(),
            rank,
            market_cap_usd: None,
            platforms: Default::default(),
        };
        let coins = [
            coin("bitcoin-cash", "BCH", "Bitcoin Cash", Some(20)),
            coin("bitcoin", "BTC", "Bitcoin", Some(1)),
            coin("ethereum", "ETH", "Ethereum", Some(2)),
            coin("bitcoin-bep2", "BTCB", "Bitcoin BEP2", None),
        ];
        store
            .replace(&coins, "coingecko", chrono::Utc::now(), 50)
            .await
            .unwrap();
    });

    let found = json_of(&coinbeat(&settings, &["coins", "bit", "--json"]));
    let ids: Vec<&str> = found["coins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bitcoin", "bitcoin-cash", "bitcoin-bep2"]);
    assert_eq!(found["catalogue"]["coins"], 4);
    let table = coinbeat(&settings, &["coins", "--limit", "2"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("4 coins (3 ranked) from coingecko"), "{text}");
    assert!(
        text.contains("bitcoin") && text.contains("ethereum"),
        "{text}"
    );
    assert!(!text.contains("bitcoin-cash"), "limited to 2: {text}");
}

#[test]
fn plan_shows_each_window_of_each_limit_against_what_the_table_needs() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let plan_with = |env: &[(&str, &str)]| {
        let output = Command::new(env!("CARGO_BIN_EXE_coinbeat"))
            .args(["plan", "--json"])
            .env_remove("COINBEAT_CONFIG")
            .env("REDIS_URL", settings.redis.url.expose())
            .envs(env.iter().copied())
            .output()
            .unwrap();
        json_of(&output)
    };
    let window = |plan: &Value, provider: &str, window: &str| -> Value {
        plan["windows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["provider"] == provider && w["window"] == window)
            .cloned()
            .unwrap_or_else(|| panic!("no {provider} {window} in {plan}"))
    };

    // The default table fits a free CoinGecko demo key's month.
    let plan = plan_with(&[]);
    let month = window(&plan, "coingecko", "10000/month");
    assert_eq!(month["fits"], true, "{month}");
    assert_eq!(month["needed"], 7_781, "{month}");
    let coinlore = window(&plan, "coinlore", "1/s");
    assert_eq!(coinlore["fits"], true, "{coinlore}");
    assert!(
        coinlore["longest_wait_ms"].as_u64().unwrap() <= 30_000,
        "{coinlore}"
    );

    // The old table (prices every 5 minutes, the markets with supplies every 10) does not.
    let plan = plan_with(&[
        ("COINBEAT_SCHEDULE__PRICES__CRON", "0 */5 * * * *"),
        ("COINBEAT_SCHEDULE__MARKET__CRON", "0 */10 * * * *"),
        ("COINBEAT_SCHEDULE__MARKET__ARGS__SUPPLY", "true"),
    ]);
    let month = window(&plan, "coingecko", "10000/month");
    assert_eq!(month["fits"], false, "{month}");
    assert!(month["needed"].as_u64().unwrap() > 10_000, "{month}");
    let market = plan["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entry"] == "market")
        .unwrap();
    assert_eq!(market["calls"]["coingecko"], 14, "{market}");
}
