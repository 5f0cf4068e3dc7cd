//! A queue on a Redis of its own, as an operator sets it up: `coinbeat up --simulate` with
//! `COINBEAT_QUEUES__OVERRIDES__CLEANUP__REDIS_URL` naming a second redis-server. The beat's
//! first ticks put `cleanup` work on that server and `prices` work on the deployment's own; each
//! is drained there by its worker process, and `coinbeat queues` and `GET /v1/queues` show both
//! queues with where they live.

mod common;

use std::{process::Command, time::Duration};

use coinbeat_shared::{keys::Keys, testing::TestRedis};
use serde_json::Value;

use common::{free_port, get_with, local_admin_key, private_redis_url, up_simulate, wait_for};

/// The row of `queue` in a list of queue snapshots.
fn row<'a>(queues: &'a Value, queue: &str) -> &'a Value {
    queues
        .as_array()
        .unwrap_or_else(|| panic!("a list of queues: {queues}"))
        .iter()
        .find(|q| q["queue"] == queue)
        .unwrap_or_else(|| panic!("no {queue} in {queues}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_queues_on_two_redis_servers_are_each_drained_and_both_shown() {
    let own = TestRedis::start();
    let data = tempfile::tempdir().unwrap();
    let (api_port, sim_port) = (free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let override_env = ("COINBEAT_QUEUES__OVERRIDES__CLEANUP__REDIS_URL", own.url());
    let up = up_simulate(
        data.path(),
        api_port,
        sim_port,
        &[(override_env.0, override_env.1.as_str())],
    );
    let http = reqwest::Client::new();
    let admin = wait_for("up's admin key", Duration::from_secs(30), async || {
        data.path()
            .join("admin.key")
            .exists()
            .then(|| local_admin_key(data.path()))
    })
    .await;

    // Both drained: the beat's first runs at start, each on its own Redis.
    let queues = wait_for(
        "a prices and a cleanup task done",
        Duration::from_secs(60),
        async || {
            let (status, body) = get_with(&http, &format!("{api}/v1/queues"), Some(&admin)).await;
            let queues = &body["queues"];
            (status == 200
                && row(queues, "prices")["done"].as_u64() >= Some(1)
                && row(queues, "cleanup")["done"].as_u64() >= Some(1))
            .then(|| queues.clone())
        },
    )
    .await;
    assert_eq!(row(&queues, "prices")["redis"], "default", "{queues}");
    assert_eq!(row(&queues, "cleanup")["redis"], own.url(), "{queues}");
    assert_eq!(row(&queues, "cleanup")["live_workers"], 1, "{queues}");
    assert_eq!(row(&queues, "prices")["live_workers"], 1, "{queues}");

    // Each queue's keys are on its own server only.
    let keys = Keys::new("coinbeat");
    let cleanup = keys.queue(&coinbeat_shared::jobs::QueueName::parse("cleanup").unwrap());
    let prices = keys.queue(&coinbeat_shared::jobs::QueueName::parse("prices").unwrap());
    let on = |url: &str, key: String| {
        let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
        redis::cmd("EXISTS")
            .arg(key)
            .query::<i64>(&mut conn)
            .unwrap()
    };
    let main_url = private_redis_url(data.path());
    assert_eq!(on(&own.url(), cleanup.done()), 1);
    assert_eq!(on(&main_url, cleanup.done()), 0);
    assert_eq!(on(&main_url, prices.done()), 1);
    assert_eq!(on(&own.url(), prices.done()), 0);

    // The CLI, configured as the deployment is, says the same.
    let out = Command::new(env!("CARGO_BIN_EXE_coinbeat"))
        .args(["queues", "--json"])
        .env_remove("COINBEAT_CONFIG")
        .env("REDIS_URL", &main_url)
        .env(override_env.0, &override_env.1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row(&listed, "cleanup")["redis"], own.url(), "{listed}");
    assert!(
        row(&listed, "cleanup")["done"].as_u64() >= Some(1),
        "{listed}"
    );
    assert_eq!(row(&listed, "prices")["redis"], "default", "{listed}");
    assert!(
        row(&listed, "prices")["done"].as_u64() >= Some(1),
        "{listed}"
    );
    let table = Command::new(env!("CARGO_BIN_EXE_coinbeat"))
        .arg("queues")
        .env_remove("COINBEAT_CONFIG")
        .env("REDIS_URL", &main_url)
        .env(override_env.0, &override_env.1)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    let cleanup_line = table
        .lines()
        .find(|l| l.starts_with("cleanup"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(cleanup_line.ends_with(&own.url()), "{table}");
    drop(up);
}
