//! The queue layer and Redis's memory, against real private redis-servers: a Redis that evicts is
//! refused, a Redis near its `maxmemory` refuses new tasks while workers drain and prune,
//! finished records go at their retention without the cleanup job, and the default backlog caps
//! fit the smaller shipped Redis (measured, not assumed).

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use coinbeat_shared::{
    Settings,
    alerts::{AlertId, Condition},
    domain::{Address, Chain, CoinId, Symbol},
    jobs::{
        AlertJob, CatalogueJob, CleanupJob, HealthJob, HistoryJob, Job, MarketJob, PricesJob,
        ProbeJob, Queue, RatesJob, SnapshotJob, WalletJob,
    },
    metrics::Registry,
    queue::{
        EnqueueOptions, MemoryReading, Producer, QueueError, RuntimeMetrics, TaskStatus,
        lookup_task, prune_finished, queue_stats,
    },
    redis_conn::{self, ConnectError},
    testing::TestRedis,
};
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

use common::{enqueue, probe, probe_runtime, producer};

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

async fn memory(conn: &ConnectionManager) -> MemoryReading {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    MemoryReading::parse(&info).unwrap()
}

#[tokio::test]
async fn a_redis_that_evicts_is_refused_naming_its_policy_unless_accepted_knowingly() {
    for policy in ["allkeys-lru", "volatile-lru", "allkeys-random"] {
        let redis = TestRedis::start_with(&args(&["--maxmemory-policy", policy])).unwrap();
        let mut settings = redis.settings();
        let err = redis_conn::connect(&settings.redis)
            .await
            .expect_err("an evicting redis is refused");
        assert!(
            matches!(&err, ConnectError::EvictingPolicy { policy: p } if p == policy),
            "{err:?}"
        );
        let text = err.to_string();
        for needle in [
            policy,
            "noeviction",
            "redis.allow_evicting_policy = true",
            "COINBEAT_REDIS__ALLOW_EVICTING_POLICY=true",
        ] {
            assert!(text.contains(needle), "{needle:?} not in {text}");
        }

        settings.redis.allow_evicting_policy = true;
        redis_conn::connect(&settings.redis)
            .await
            .expect("accepted knowingly");
    }

    let redis = TestRedis::start_with(&args(&["--maxmemory-policy", "noeviction"])).unwrap();
    redis_conn::connect(&redis.settings().redis)
        .await
        .expect("noeviction is what we want");

    // A managed Redis that hides CONFIG: we cannot tell, so we warn and go on.
    let redis = TestRedis::start_with(&args(&[
        "--maxmemory-policy",
        "allkeys-lru",
        "--rename-command",
        "CONFIG",
        "",
    ]))
    .unwrap();
    redis_conn::connect(&redis.settings().redis)
        .await
        .expect("a redis that will not say is not a reason to stop");
}

#[tokio::test]
async fn a_process_started_while_redis_is_down_refuses_an_evicting_redis_once_it_answers() {
    let mut redis = TestRedis::start_with(&args(&["--maxmemory-policy", "allkeys-lru"])).unwrap();
    let settings = redis.settings();
    redis.kill();
    let conn = redis_conn::connect_lazy(&settings.redis).expect("no connection is made yet");
    let watch = tokio::spawn(redis_conn::watch_eviction_policy(
        conn,
        settings.redis.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!watch.is_finished(), "an unreachable redis is waited for");
    redis.restart();
    let verdict = tokio::time::timeout(Duration::from_secs(15), watch)
        .await
        .expect("decided once redis answers")
        .unwrap();
    assert!(
        matches!(&verdict, Err(ConnectError::EvictingPolicy { policy }) if policy == "allkeys-lru"),
        "{verdict:?}"
    );
}

/// A queue on a Redis of its own that evicts is refused like the main one: at connect by the
/// workers and the CLI, and by the watch of a process that starts without Redis (the API).
#[tokio::test]
async fn a_queues_own_redis_that_evicts_is_refused_naming_its_policy() {
    let main = TestRedis::start();
    let own = TestRedis::start_with(&args(&["--maxmemory-policy", "volatile-lru"])).unwrap();
    let mut settings = main.settings();
    settings
        .queues
        .overrides
        .entry("wallet".to_owned())
        .or_default()
        .redis_url = Some(coinbeat_shared::settings::Secret::new(own.url()));
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let eager = redis_conn::connect_queues(&settings, conn.clone()).await;
    assert!(
        matches!(&eager, Err(ConnectError::EvictingPolicy { policy }) if policy == "volatile-lru"),
        "{eager:?}"
    );
    let lazy = redis_conn::connect_queues_lazy(&settings, conn.clone()).unwrap();
    let verdict = tokio::time::timeout(
        Duration::from_secs(10),
        redis_conn::watch_every_eviction_policy(conn.clone(), lazy, settings.clone()),
    )
    .await
    .expect("decided: both answer");
    assert!(
        matches!(&verdict, Err(ConnectError::EvictingPolicy { policy }) if policy == "volatile-lru"),
        "{verdict:?}"
    );
    // Accepted knowingly, it is only warned about.
    settings.redis.allow_evicting_policy = true;
    assert!(redis_conn::connect_queues(&settings, conn).await.is_ok());
}

/// Runs a probe worker in-process with its metrics in `registry`, counting runs in `runs`.
fn spawn_probe_worker(
    settings: &Settings,
    conn: &ConnectionManager,
    registry: &Registry,
    runs: Arc<AtomicU64>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let rt = probe_runtime(settings, conn).with_metrics(RuntimeMetrics::new(registry));
    let s = stop.clone();
    let h = tokio::spawn(async move {
        rt.run(
            move |_job: ProbeJob, _| {
                let runs = runs.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(Some(serde_json::json!({"ok": true})))
                }
            },
            s,
        )
        .await
        .unwrap()
    });
    (stop, h)
}

/// The value of one sample of `registry`'s text exposition.
fn sample(registry: &Registry, series: &str) -> f64 {
    let text = registry.render();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test]
async fn a_redis_at_its_high_water_mark_refuses_new_tasks_while_a_worker_drains_them_all_without_restarting()
 {
    let redis = TestRedis::start_with(&args(&[
        "--maxmemory",
        "12mb",
        "--maxmemory-policy",
        "noeviction",
    ]))
    .unwrap();
    let mut settings = redis.settings();
    // Half of 12 MB: a reading may be a second old, and a second of enqueues in a test must not
    // carry memory from the mark to maxmemory.
    settings.queues.defaults.memory_high_water = 0.5;
    settings.queues.defaults.poll_interval_ms = 50;
    let (conn, keys, producer) = producer(&settings).await;
    let queue = ProbeJob::queue();

    // Fill until enqueue says no; the refusal is the memory mark, never Redis's own OOM.
    let mut accepted = 0u64;
    let refusal = loop {
        let batch: Vec<ProbeJob> = (0..200)
            .map(|i| ProbeJob {
                seq: accepted + i,
                ..ProbeJob::default()
            })
            .collect();
        match producer.enqueue_bulk(&batch).await {
            Ok(ids) => accepted += ids.len() as u64,
            Err(e) => break e,
        }
        assert!(accepted < 200_000, "enqueue was never refused");
    };
    let QueueError::MemoryFull {
        queue: refused_queue,
        used,
        limit,
        max,
        ..
    } = &refusal
    else {
        panic!("refused for another reason than memory: {refusal:?}");
    };
    assert_eq!(refused_queue, &queue);
    assert_eq!(*max, 12 * 1024 * 1024);
    assert!(used > limit, "{refusal}");
    assert!(refusal.to_string().contains("memory"), "{refusal}");
    assert!(accepted > 1_000, "only {accepted} tasks fitted");
    let full = memory(&conn).await;
    assert!(
        full.used < full.max,
        "redis itself never got full: {full:?}"
    );

    // The cleanup job still gets in (it is what frees memory), and the cleanup's prune runs.
    producer
        .enqueue(&CleanupJob {}, EnqueueOptions::default())
        .await
        .expect("cleanup has no memory mark");
    prune_finished(&conn, &keys, &queue, Duration::ZERO)
        .await
        .expect("pruning needs no room");

    // A worker drains every task; above the mark its acks prune the oldest done records.
    let registry = Registry::new();
    let runs = Arc::new(AtomicU64::new(0));
    let (stop, worker) = spawn_probe_worker(&settings, &conn, &registry, runs.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = queue_stats(&conn, &keys, &queue, &settings.queues.defaults)
            .await
            .unwrap();
        let done = sample(
            &registry,
            r#"coinbeat_tasks_total{queue="probe",outcome="done"}"#,
        );
        if done as u64 >= accepted && stats.waiting == 0 && stats.in_flight == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not drained: {done} of {accepted} done, {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(runs.load(Ordering::SeqCst), accepted, "each task ran once");
    assert_eq!(
        sample(
            &registry,
            r#"coinbeat_tasks_total{queue="probe",outcome="dead"}"#
        ),
        0.0
    );
    assert_eq!(
        sample(
            &registry,
            r#"coinbeat_worker_restarts_total{queue="probe"}"#
        ),
        0.0,
        "the worker never stopped on a full redis"
    );

    // Drained and pruned, Redis is under the mark again and takes tasks.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match producer
            .enqueue(&ProbeJob::default(), EnqueueOptions::default())
            .await
        {
            Ok(_) => break,
            Err(QueueError::MemoryFull { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("still refused after draining: {e}"),
        }
    }
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn finished_records_past_their_retention_go_without_the_cleanup_job() {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    settings.queues.defaults.finished_retention_secs = 1;
    settings.queues.defaults.poll_interval_ms = 50;
    let (conn, keys, producer) = producer(&settings).await;
    let queue = ProbeJob::queue();
    let registry = Registry::new();
    let (stop, worker) =
        spawn_probe_worker(&settings, &conn, &registry, Arc::new(AtomicU64::new(0)));

    let mut ids = Vec::new();
    for seq in 0..5 {
        ids.push(enqueue(&producer, &probe(seq)).await);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for id in &ids {
        loop {
            let info = lookup_task(&conn, &keys, &queue, *id).await.unwrap();
            if info.is_some_and(|i| i.status == TaskStatus::Done) {
                break;
            }
            assert!(Instant::now() < deadline, "task {id} never finished");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // Nothing else is acked and no cleanup job runs: the worker's own ticks prune.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut left = 0;
        for id in &ids {
            left += u64::from(
                lookup_task(&conn, &keys, &queue, *id)
                    .await
                    .unwrap()
                    .is_some(),
            );
        }
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} finished records outlived their retention"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let k = keys.queue(&queue);
    let mut c = conn.clone();
    let (finished, data): (u64, u64) = redis::pipe()
        .cmd("ZCARD")
        .arg(k.finished())
        .cmd("HLEN")
        .arg(k.data())
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!((finished, data), (0, 0), "index and payloads went too");
    stop.cancel();
    worker.await.unwrap();
}

/// Bytes one waiting task of each queue takes in Redis, measured on `n` tasks with the payloads
/// the scheduler and the API send.
async fn bytes_per_waiting_task(
    producer: &Producer,
    conn: &ConnectionManager,
) -> [(Queue, u64); Queue::ALL.len()] {
    const N: usize = 10_000;
    let address = Address::parse("0x742d35cc6634c0532925a3b844bc454e4438f44e").unwrap();
    let symbols: Vec<Symbol> = [
        "BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "DOT", "LINK", "AVAX",
    ]
    .iter()
    .map(|s| Symbol::parse(s).unwrap())
    .collect();
    let mut out = [(Queue::Prices, 0); Queue::ALL.len()];
    for (i, queue) in Queue::ALL.into_iter().enumerate() {
        let before = memory(conn).await.used;
        match queue {
            // The API's on-demand prices job names its symbols (the beat's names none).
            Queue::Prices => {
                bulk(
                    producer,
                    vec![
                        PricesJob {
                            symbols: Some(symbols.clone()),
                            ids: None,
                            tier: None
                        };
                        N
                    ],
                )
                .await
            }
            Queue::Market => {
                bulk(
                    producer,
                    vec![
                        MarketJob {
                            limit: 250,
                            supply: true
                        };
                        N
                    ],
                )
                .await
            }
            Queue::Wallet => {
                // On-demand wallets carry a single-flight idempotency key, a key of their own.
                for n in 0..N {
                    let opts = EnqueueOptions {
                        idempotency_key: Some(format!("wallet:ethereum:{address}:{n}")),
                        single_flight: true,
                        ..EnqueueOptions::default()
                    };
                    let job = WalletJob {
                        chain: Chain::Ethereum,
                        address: address.clone(),
                    };
                    producer.enqueue(&job, opts).await.unwrap();
                }
            }
            Queue::Health => bulk(producer, vec![HealthJob {}; N]).await,
            Queue::Cleanup => bulk(producer, vec![CleanupJob {}; N]).await,
            Queue::Catalogue => bulk(producer, vec![CatalogueJob {}; N]).await,
            Queue::History => {
                let job = HistoryJob::Snapshot(SnapshotJob {
                    set: "ranked".into(),
                });
                bulk(producer, vec![job; N]).await
            }
            Queue::Rates => bulk(producer, vec![RatesJob::default(); N]).await,
            // Each crossing's delivery carries its trigger as its idempotency key.
            Queue::Alerts => {
                let jobs: Vec<(AlertJob, String)> = (0..N)
                    .map(|n| {
                        let job = alert_job(n);
                        let key = job.trigger();
                        (job, key)
                    })
                    .collect();
                producer.enqueue_keyed(&jobs).await.unwrap();
            }
        }
        let after = memory(conn).await.used;
        out[i] = (queue, after.saturating_sub(before) / N as u64);
    }
    out
}

/// A delivery as a price write enqueues it.
fn alert_job(n: usize) -> AlertJob {
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(n as i64);
    AlertJob {
        alert_id: AlertId::generate(),
        coin: CoinId::parse("bitcoin").unwrap(),
        symbol: "BTC".into(),
        condition: Condition::Above {
            usd: "100000".parse().unwrap(),
        },
        usd: "100000.12".parse().unwrap(),
        previous_usd: "99999.87".parse().unwrap(),
        reference_usd: None,
        as_of: at,
        fetched_at: at,
        source: "binance-ws".into(),
    }
}

async fn bulk<J: Job>(producer: &Producer, jobs: Vec<J>) {
    producer.enqueue_bulk(&jobs).await.unwrap();
}

#[tokio::test]
async fn every_queue_full_at_its_default_cap_fits_under_half_the_smaller_shipped_redis() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let (conn, _, producer) = producer(&settings).await;
    let measured = bytes_per_waiting_task(&producer, &conn).await;

    // docker/k8s/redis.yaml's --maxmemory (compose's is 1 GB).
    const K8S_MAXMEMORY: u64 = 700 * 1024 * 1024;
    let defaults = coinbeat_shared::Settings::default().queues;
    let mut total = 0;
    for (queue, bytes) in measured {
        let cap = defaults.for_queue(&queue.name()).max_backlog;
        println!(
            "{queue}: {bytes} B per waiting task, cap {cap}: {} MB",
            cap * bytes / 1_000_000
        );
        total += cap * bytes;
    }
    println!(
        "total {} MB of {} MB",
        total / 1_000_000,
        K8S_MAXMEMORY / 1_000_000
    );
    // Half: the other half holds the cache, histories and finished records, and the mark (0.8)
    // stays well above every queue full.
    assert!(
        total < K8S_MAXMEMORY / 2,
        "every queue full takes {total} bytes: {measured:?}"
    );
}
