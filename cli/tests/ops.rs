//! The ops commands against a real, private redis-server: `enqueue`, `task`, `queues`, with
//! `--json` for scripts and clear errors for bad input.

use std::process::{Command, Output};

use coinbeat_shared::{Settings, testing::TestRedis};
use serde_json::Value;

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
    assert_eq!(queues.len(), 5);
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
    assert_eq!(prices["cron"], "0 */5 * * * *");
    assert_eq!(prices["kind"], "prices");
    assert!(prices["last_tick_ms"].is_null(), "never ran here: {prices}");
}
