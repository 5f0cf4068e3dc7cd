//! `GET /v1/schedules`: every configured entry with its run record and the outcome of its last
//! run, read from the task the beat enqueued: done with its finish time, dead with its error,
//! still pending, `expired` once the task record is pruned, `null` when it never ran.

use std::time::Duration;

use coinbeat_shared::{
    jobs::{CleanupJob, HealthJob, Job, MarketJob},
    keys::Keys,
    queue::{EnqueueOptions, JobContext, JobError, Producer, TaskId, WorkerRuntime},
    redis_conn,
    schedule_state::{LAST_TASK_ID, LAST_TICK_MS, NEXT_TICK_MS},
};
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::support::Api;

/// Records `task` as the last run of `entry`, as the beat does after enqueueing it.
async fn record_run(api: &Api, entry: &str, task: TaskId) {
    let mut conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    let _: () = conn
        .hset_multiple(
            keys.schedule_entry(entry),
            &[
                (LAST_TICK_MS, "1790000000000".to_owned()),
                (LAST_TASK_ID, task.to_string()),
                (NEXT_TICK_MS, "1790000300000".to_owned()),
            ],
        )
        .await
        .unwrap();
}

/// Runs the `J` queue's tasks with `handler` until they are all finished.
async fn work_off<J: Job>(api: &Api, outcome: fn() -> Result<Option<Value>, JobError>) {
    let settings = &api.settings;
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let mut queue = settings.queues.for_queue(&J::queue());
    queue.poll_interval_ms = 20;
    let runtime = WorkerRuntime::new(
        redis_conn::client(&settings.redis).unwrap(),
        conn,
        keys,
        queue,
    );
    let stop = CancellationToken::new();
    let handler = move |_job: J, _ctx: JobContext| async move { outcome() };
    let worker = tokio::spawn(runtime.run(handler, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn each_entry_shows_the_outcome_of_its_last_run() {
    let api = Api::start().await;
    let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
    let keys = Keys::new(api.settings.redis.key_prefix.clone());
    let producer = Producer::new(conn, keys, api.settings.queues.clone());
    let market = producer
        .enqueue(
            &MarketJob {
                limit: 5,
                supply: true,
            },
            EnqueueOptions::default(),
        )
        .await
        .unwrap();
    work_off::<MarketJob>(&api, || Ok(None)).await;
    let health = producer
        .enqueue(&HealthJob {}, EnqueueOptions::default())
        .await
        .unwrap();
    work_off::<HealthJob>(&api, || {
        Err(JobError::permanent("ETHERSCAN_API_KEY is not set"))
    })
    .await;
    let cleanup = producer
        .enqueue(&CleanupJob {}, EnqueueOptions::default())
        .await
        .unwrap();
    record_run(&api, "market", market).await;
    record_run(&api, "health", health).await;
    record_run(&api, "cleanup", cleanup).await;
    // A task id no queue knows any more: its record was pruned after the retention.
    record_run(&api, "prices", TaskId::generate()).await;

    let (status, body) = api.get("/v1/schedules").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = |name: &str| {
        body["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {body}"))
            .clone()
    };

    let market = entry("market");
    assert_eq!(market["last_outcome"], "done", "{market}");
    assert!(market["last_finished_at"].is_string(), "{market}");
    assert!(market["last_error"].is_null(), "{market}");
    assert_eq!(market["last_tick"], "2026-09-21T14:13:20Z");
    assert_eq!(market["next_tick"], "2026-09-21T14:18:20Z");

    let health = entry("health");
    assert_eq!(health["last_outcome"], "dead", "{health}");
    assert_eq!(health["last_error"], "ETHERSCAN_API_KEY is not set");
    assert!(health["last_finished_at"].is_string(), "{health}");

    let cleanup = entry("cleanup");
    assert_eq!(cleanup["last_outcome"], "pending", "{cleanup}");
    assert!(cleanup["last_finished_at"].is_null(), "{cleanup}");

    let prices = entry("prices");
    assert_eq!(prices["last_outcome"], "expired", "{prices}");

    // No run recorded at all: every run field is null.
    let (_, body) = {
        let fresh = Api::start().await;
        fresh.get("/v1/schedules").await
    };
    let never = &body["schedules"][0];
    assert!(never["last_outcome"].is_null(), "{never}");
    assert!(never["last_tick"].is_null(), "{never}");
}

#[tokio::test]
async fn a_price_tier_shows_its_interval_and_whether_the_plan_check_stretched_it() {
    let api = Api::start_with(|settings| {
        // As `Settings::load` makes them: one entry per tier, stretched to fit CoinLore at ten
        // calls a minute.
        settings.providers.coinlore.rate_limit = "10/min".into();
        settings.prices.extend_schedule(&mut settings.schedule);
        let mut table = std::mem::take(&mut settings.schedule);
        assert!(coinbeat_shared::plan::stretch_tiers(
            settings,
            &mut table,
            chrono::Utc::now()
        ));
        settings.schedule = table;
    })
    .await;
    let (status, body) = api.get("/v1/schedules").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = |name: &str| {
        body["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {body}"))
    };
    let major = entry("prices-major");
    assert_eq!(major["args"], serde_json::json!({"tier": "major"}));
    assert_eq!(major["tier"]["tier"], "major");
    assert_eq!(major["tier"]["configured_every_secs"], 120, "{major}");
    assert_eq!(major["tier"]["stretched"], true, "{major}");
    assert!(
        major["tier"]["every_secs"].as_u64().unwrap() > 120,
        "{major}"
    );
    let top = entry("prices-top");
    assert_eq!(top["tier"]["stretched"], false, "{top}");
    assert_eq!(top["cron"], "*/30 * * * * *");
    assert!(entry("market").get("tier").is_none(), "not a tier's entry");
}
