//! The scheduler's metrics and ops port against a private redis-server, with the beat running
//! in this process: ticks by trigger and outcome agree with the tasks in the queue, a second
//! replica counts the ticks it lost as deduplicated, and catch-up counts the ticks it skipped.

use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use coinbeat_ops::Ops;
use coinbeat_scheduler::{SchedulerMetrics, parse_schedule};
use coinbeat_shared::{
    Settings,
    jobs::Queue,
    keys::Keys,
    metrics::{RedisGauges, Registry},
    redis_conn,
    settings::ScheduleEntry,
    testing::{Exposition, TestRedis},
};
use reqwest::StatusCode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(20);

fn only_health_every(settings: &mut Settings, cron: &str) {
    settings.schedule.clear();
    settings.schedule.insert(
        "health".into(),
        ScheduleEntry {
            cron: cron.into(),
            kind: Queue::Health,
            args: serde_json::json!({}),
            enabled: true,
            tier: None,
        },
    );
}

async fn get(base: &str, path: &str) -> (StatusCode, String) {
    let r = reqwest::get(format!("{base}{path}"))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    (r.status(), r.text().await.unwrap())
}

async fn scrape(base: &str) -> Exposition {
    let (status, body) = get(base, "/metrics").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Exposition::parse(&body)
}

/// An ops server over `metrics`' registry that outlives the beat, so the test can read the
/// final counts after the beat stopped.
async fn ops_server(settings: &Settings, registry: Registry, metrics: &SchedulerMetrics) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let gauges = RedisGauges::new(conn.clone(), keys, Duration::from_secs(1));
    let running = metrics.clone();
    let ops = Ops::new(registry, gauges, conn, Duration::from_secs(1), move || {
        running.is_running()
    });
    // Stopped when the test's runtime ends.
    coinbeat_ops::spawn(Some(listener), ops, CancellationToken::new());
    base
}

fn ticks(m: &Exposition, trigger: &str, outcome: &str) -> f64 {
    m.get(
        "coinbeat_scheduler_ticks_total",
        &[
            ("entry", "health"),
            ("trigger", trigger),
            ("outcome", outcome),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_count_every_tick_once_as_claimed_and_the_lost_ones_as_deduplicated() {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    only_health_every(&mut settings, "* * * * * *");
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let registry = Registry::new();
        let metrics = SchedulerMetrics::new(&registry);
        let base = ops_server(&settings, registry, &metrics).await;
        let stop = CancellationToken::new();
        let beat = tokio::spawn(coinbeat_scheduler::run_with(
            settings.clone(),
            metrics,
            stop.clone(),
        ));
        replicas.push((base, stop, beat));
    }

    // Running: ready, and beating.
    let deadline = Instant::now() + PATIENCE;
    for (base, _, _) in &replicas {
        while get(base, "/readyz").await.0 != StatusCode::OK {
            assert!(Instant::now() < deadline, "never ready");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(
            scrape(base).await.get("coinbeat_scheduler_running", &[]),
            1.0
        );
    }
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    for (_, stop, beat) in replicas.iter_mut() {
        stop.cancel();
        tokio::time::timeout(PATIENCE, beat)
            .await
            .expect("the beat stops")
            .unwrap()
            .unwrap();
    }

    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let tasks: u64 = redis::cmd("HLEN")
        .arg(keys.queue(&Queue::Health.name()).data())
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let mut claimed = 0.0;
    let mut deduplicated = 0.0;
    let mut catch_ups = 0.0;
    for (base, _, _) in &replicas {
        let m = scrape(base).await;
        let mine = ticks(&m, "tick", "claimed") + ticks(&m, "catch-up", "claimed");
        claimed += mine;
        deduplicated += ticks(&m, "tick", "deduplicated") + ticks(&m, "catch-up", "deduplicated");
        catch_ups += m.get(
            "coinbeat_scheduler_catch_up_runs_total",
            &[("entry", "health")],
        );
        assert_eq!(ticks(&m, "tick", "failed"), 0.0);
        assert_eq!(ticks(&m, "catch-up", "skipped"), 0.0, "nothing was missed");
        // One lateness observation per job this replica enqueued, each well under a period.
        let lateness = "coinbeat_scheduler_tick_lateness_seconds";
        assert_eq!(m.type_of(lateness), Some("histogram"));
        let count: f64 = m
            .series(&format!("{lateness}_count"))
            .iter()
            .map(|s| s.value)
            .sum();
        assert_eq!(count, mine, "{}", m.text);
        let tick = [("entry", "health"), ("trigger", "tick")];
        if let Some(sum) = m.value(&format!("{lateness}_sum"), &tick) {
            let n = m.get(&format!("{lateness}_count"), &tick);
            assert!(
                sum / n < 1.0,
                "a regular tick enqueued {} s late on average",
                sum / n
            );
        }
        assert_eq!(m.get("coinbeat_scheduler_running", &[]), 0.0);
        let (status, body) = get(base, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("not_running"), "{body}");
    }
    assert!(
        tasks >= 3,
        "an every-second entry for over 3 s: {tasks} tasks"
    );
    assert_eq!(
        claimed, tasks as f64,
        "every task claimed by exactly one replica"
    );
    assert!(
        deduplicated >= 1.0,
        "the replica that lost a tick counts it"
    );
    assert!(
        (1.0..=2.0).contains(&catch_ups),
        "each replica catches up at most once: {catch_ups}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_three_missed_minutes_counts_one_catch_up_run_and_two_skipped_ticks() {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    only_health_every(&mut settings, "0 * * * * *");
    // Far enough from a minute boundary that the latest scheduled time stays put.
    while Utc::now().second() >= 55 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let entry = parse_schedule(&settings).unwrap().remove(0);
    let latest = entry.latest_at_or_before(Utc::now()).unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    // The run record an earlier scheduler left, three periods ago.
    let last = latest - chrono::Duration::minutes(3);
    let _: () = redis::cmd("HSET")
        .arg(keys.schedule_entry("health"))
        .arg("last_tick_ms")
        .arg(last.timestamp_millis())
        .query_async(&mut conn.clone())
        .await
        .unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let scheduler = tokio::spawn(coinbeat_scheduler::run_on(
        settings.clone(),
        Some(listener),
        stop.clone(),
    ));

    let deadline = Instant::now() + PATIENCE;
    let m = loop {
        let m = scrape(&base).await;
        if m.value(
            "coinbeat_scheduler_catch_up_runs_total",
            &[("entry", "health")],
        ) == Some(1.0)
            && ticks(&m, "catch-up", "claimed") == 1.0
        {
            break m;
        }
        assert!(Instant::now() < deadline, "never caught up:\n{}", m.text);
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(
        ticks(&m, "catch-up", "skipped"),
        2.0,
        "three missed minutes, the latest run"
    );
    let catch_up = [("entry", "health"), ("trigger", "catch-up")];
    let lateness = "coinbeat_scheduler_tick_lateness_seconds";
    assert_eq!(m.get(&format!("{lateness}_count"), &catch_up), 1.0);
    let late = m.get(&format!("{lateness}_sum"), &catch_up);
    let expected = (Utc::now() - latest).num_milliseconds() as f64 / 1000.0;
    assert!(
        late > 0.0 && late <= expected,
        "{late} s late, at most {expected}"
    );
    assert_eq!(m.get("coinbeat_redis_up", &[]), 1.0);
    assert_eq!(get(&base, "/readyz").await.0, StatusCode::OK);

    stop.cancel();
    tokio::time::timeout(PATIENCE, scheduler)
        .await
        .expect("the scheduler stops")
        .unwrap()
        .unwrap();
}
