//! The cleanup worker against a real, private redis-server filled with expired and fresh
//! records, long histories, finished tasks of various ages and dead workers' leftovers: exactly
//! the right keys go, and a second run removes nothing.

use std::{str::FromStr, time::Duration};

use chrono::Utc;
use coinbeat_shared::{
    Settings,
    cache::{PriceCache, PriceRecord},
    domain::CoinId,
    jobs::{CleanupJob, Job, PricesJob, Queue},
    queue::{EnqueueOptions, Producer, TaskStatus, WorkerRuntime, lookup_task},
    redis_conn,
    testing::TestRedis,
};
use coinbeat_workers::{boot::WorkerEnv, cleanup::CleanupWorker};
use redis::{AsyncCommands, aio::ConnectionManager};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const HOUR_MS: i64 = 3_600_000;

fn record(symbol: &str, fetched_ms: i64) -> PriceRecord {
    PriceRecord {
        symbol: symbol.into(),
        coin_id: CoinId::parse(&symbol.to_lowercase()).unwrap(),
        usd: Decimal::from_str("1.5").unwrap(),
        change_24h_pct: None,
        market_cap_usd: None,
        volume_24h_usd: None,
        upstream_updated_at: None,
        fetched_at: chrono::DateTime::from_timestamp_millis(fetched_ms).unwrap(),
        source: "test".into(),
    }
}

async fn exists(conn: &ConnectionManager, key: &str) -> bool {
    conn.clone().exists(key).await.unwrap()
}

async fn zcard(conn: &ConnectionManager, key: &str) -> u64 {
    conn.clone().zcard(key).await.unwrap()
}

#[tokio::test]
async fn cleanup_removes_exactly_what_is_past_its_time_and_a_second_run_removes_nothing() {
    let redis = TestRedis::start();
    let mut settings: Settings = redis.settings();
    settings.prices.expire_secs = 3_600;
    settings.prices.fresh_secs = 60;
    settings.prices.history_points = 3;
    settings.queues.defaults.finished_retention_secs = 60;
    settings.queues.defaults.orphan_after_secs = 1;
    settings.queues.defaults.heartbeat_secs = 1;
    settings.queues.defaults.poll_interval_ms = 20;
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    let (conn, keys) = (env.conn.clone(), env.keys.clone());
    let cache = PriceCache::new(conn.clone(), keys.clone(), &settings.prices);
    let now = Utc::now().timestamp_millis();
    // Records are keyed by coin id; these coins' ids are their symbols in lower case.
    let sym = |s: &str| CoinId::parse(&s.to_lowercase()).unwrap();
    let mut c = conn.clone();

    // Prices. BTC: fresh, 3 recent points plus one past the expiry.
    for i in 0..3 {
        cache
            .write(&[record("BTC", now - 3_000 + i * 1_000)])
            .await
            .unwrap();
    }
    let _: () = c
        .zadd(
            keys.price_history(&sym("BTC")),
            r#"{"t":0,"usd":"1"}"#,
            now - 2 * HOUR_MS,
        )
        .await
        .unwrap();
    // SOL: fresh, 5 recent points where 3 are kept.
    cache.write(&[record("SOL", now)]).await.unwrap();
    for i in 1..=4 {
        let _: () = c
            .zadd(
                keys.price_history(&sym("SOL")),
                format!(r#"{{"t":{i},"usd":"1"}}"#),
                now - 10_000 - i,
            )
            .await
            .unwrap();
    }
    // ETH: past the hard expiry and without a TTL (as if written by an older version).
    let eth = record("ETH", now - 2 * HOUR_MS);
    let _: () = c
        .hset_multiple(
            keys.price(&sym("ETH")),
            &[
                ("fetched_at_ms", (now - 2 * HOUR_MS).to_string()),
                ("record", serde_json::to_string(&eth).unwrap()),
            ],
        )
        .await
        .unwrap();
    let _: () = c
        .zadd(keys.price_history(&sym("ETH")), "{}", now - 2 * HOUR_MS)
        .await
        .unwrap();
    // DOGE: a history whose record is gone.
    let _: () = c
        .zadd(keys.price_history(&sym("DOGE")), "{}", now - 1_000)
        .await
        .unwrap();

    // Finished tasks on the prices queue: three done, two of them finished two hours ago.
    let producer = Producer::new(conn.clone(), keys.clone(), settings.queues.clone());
    let stop = CancellationToken::new();
    let runtime = WorkerRuntime::new(
        redis_conn::client(&settings.redis).unwrap(),
        conn.clone(),
        keys.clone(),
        settings.queues.for_queue(&PricesJob::queue()),
    );
    let worker = tokio::spawn(runtime.run(
        |_job: PricesJob, _ctx| async move { Ok(Some(json!("ok"))) },
        stop.clone(),
    ));
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            producer
                .enqueue(&PricesJob::default(), EnqueueOptions::default())
                .await
                .unwrap(),
        );
    }
    let started = std::time::Instant::now();
    for id in &ids {
        loop {
            let info = lookup_task(&conn, &keys, &PricesJob::queue(), *id)
                .await
                .unwrap();
            if info.is_some_and(|i| i.status == TaskStatus::Done) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "tasks never finished"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    stop.cancel();
    worker.await.unwrap().unwrap();
    let q = keys.queue(&PricesJob::queue());
    for id in &ids[..2] {
        let _: () = c
            .zadd(q.finished(), id.to_string(), now - 2 * HOUR_MS)
            .await
            .unwrap();
    }

    // Workers on the market queue: one long dead with nothing held, one long dead still
    // holding a task (orphan recovery's job first), one alive.
    let m = keys.queue(&Queue::Market.name());
    let old_secs = (now / 1_000) - 3_600;
    let _: () = c.zadd(m.workers(), "ghost-empty", old_secs).await.unwrap();
    let _: () = c
        .hset(m.worker_metadata("ghost-empty"), "backend", "redis")
        .await
        .unwrap();
    let _: () = c
        .zadd(m.workers(), "ghost-holding", old_secs)
        .await
        .unwrap();
    let _: () = c
        .sadd(m.inflight("ghost-holding"), "some-task")
        .await
        .unwrap();
    let _: () = c.zadd(m.workers(), "alive", now / 1_000).await.unwrap();

    // Schedule entries: `retired` left the table a month ago, `just-retired` an hour ago, and
    // `prices` is in the table however old its record.
    let month_ago = now - 30 * 24 * HOUR_MS;
    for (entry, last_tick) in [
        ("retired", month_ago),
        ("just-retired", now - HOUR_MS),
        ("prices", month_ago),
    ] {
        let _: () = c
            .hset(keys.schedule_entry(entry), "last_tick_ms", last_tick)
            .await
            .unwrap();
        let _: () = c
            .hset(keys.schedule_control(entry), "resumed_ms", last_tick)
            .await
            .unwrap();
        let _: () = c.lpush(keys.schedule_history(entry), "{}").await.unwrap();
    }

    let cleanup = CleanupWorker::new(&env);
    let first = cleanup.handle(CleanupJob {}).await.unwrap().unwrap();
    let removed = &first["removed"];
    assert_eq!(removed["price_records"], 1, "{first}");
    assert_eq!(
        removed["history_points"], 3,
        "BTC's old point + SOL's 2 extra: {first}"
    );
    assert_eq!(removed["orphaned_histories"], 1, "{first}");
    assert_eq!(removed["finished_tasks"]["prices"], 2, "{first}");
    assert_eq!(removed["dead_workers"]["market"], 1, "{first}");
    assert_eq!(removed["removed_schedule_entries"], 1, "{first}");
    for key in [
        keys.schedule_entry("retired"),
        keys.schedule_control("retired"),
        keys.schedule_history("retired"),
    ] {
        assert!(!exists(&conn, &key).await, "{key}");
    }
    for entry in ["just-retired", "prices"] {
        assert!(exists(&conn, &keys.schedule_entry(entry)).await, "{entry}");
        assert!(
            exists(&conn, &keys.schedule_control(entry)).await,
            "{entry}"
        );
    }
    let total = |v: &Value| -> u64 {
        v.as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum()
    };
    assert_eq!(total(&removed["finished_tasks"]), 2);
    assert_eq!(total(&removed["dead_workers"]), 1);

    // Exactly those keys are gone.
    assert!(!exists(&conn, &keys.price(&sym("ETH"))).await);
    assert!(!exists(&conn, &keys.price_history(&sym("ETH"))).await);
    assert!(!exists(&conn, &keys.price_history(&sym("DOGE"))).await);
    assert!(cache.get(&sym("BTC")).await.unwrap().is_some());
    assert!(cache.get(&sym("SOL")).await.unwrap().is_some());
    assert_eq!(zcard(&conn, &keys.price_history(&sym("BTC"))).await, 3);
    assert_eq!(zcard(&conn, &keys.price_history(&sym("SOL"))).await, 3);
    for id in &ids[..2] {
        assert!(
            lookup_task(&conn, &keys, &PricesJob::queue(), *id)
                .await
                .unwrap()
                .is_none()
        );
        assert!(!exists(&conn, &q.meta(&id.to_string())).await);
    }
    let kept = lookup_task(&conn, &keys, &PricesJob::queue(), ids[2])
        .await
        .unwrap();
    assert_eq!(kept.unwrap().status, TaskStatus::Done);
    let workers: Vec<String> = c.zrange(m.workers(), 0, -1).await.unwrap();
    assert_eq!(workers, ["ghost-holding", "alive"]);
    assert!(!exists(&conn, &m.worker_metadata("ghost-empty")).await);
    assert!(exists(&conn, &m.inflight("ghost-holding")).await);

    // A second run finds nothing to do.
    let second = cleanup.handle(CleanupJob {}).await.unwrap().unwrap();
    let removed = &second["removed"];
    assert_eq!(removed["price_records"], 0, "{second}");
    assert_eq!(removed["history_points"], 0, "{second}");
    assert_eq!(removed["orphaned_histories"], 0, "{second}");
    assert_eq!(total(&removed["finished_tasks"]), 0, "{second}");
    assert_eq!(total(&removed["dead_workers"]), 0, "{second}");
    assert_eq!(removed["removed_schedule_entries"], 0, "{second}");
}
