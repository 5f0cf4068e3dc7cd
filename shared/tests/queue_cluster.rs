//! Queues on a real Redis Cluster (3 primaries started here) through the per-queue URL
//! (`queues.overrides.<queue>.redis_url = "redis+cluster://…"`): enqueue, fetch, ack, retry,
//! dead letters, stats, lookup, purge, retention and the worker sweep, with two queues whose
//! keys live on different primaries. Every key of one queue shares one hash tag, so each
//! queue script runs on one node; a script touching another slot would fail with CROSSSLOT.

mod common;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use coinbeat_shared::{
    jobs::{Job, PricesJob, ProbeFailure, ProbeJob, QueueName},
    keys::Keys,
    queue::{
        EnqueueOptions, JobError, Producer, QueueRedis, TaskStatus, WorkerRuntime, find_task,
        list_dead, lookup_task, prune_finished, purge_dead, purge_waiting, queue_stats, retry_dead,
        sweep_dead_workers,
    },
    redis_conn,
    settings::Secret,
    testing::{TestCluster, TestRedis},
};
use tokio_util::sync::CancellationToken;

use common::{enqueue, probe};

/// A key prefix under which the probe and prices queues hash to different primaries.
fn prefix_splitting(cluster: &TestCluster) -> String {
    for i in 0..1000 {
        let keys = Keys::new(format!("cl{i}"));
        let probe = cluster.node_of(&keys.queue(&ProbeJob::queue()).active());
        let prices = cluster.node_of(&keys.queue(&PricesJob::queue()).active());
        if probe != prices {
            return format!("cl{i}");
        }
    }
    unreachable!("1000 prefixes, 3 primaries: some pair differs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_on_a_redis_cluster_do_everything_a_queue_does() {
    let cluster = TestCluster::start(3);
    let main = TestRedis::start();
    let mut settings = main.settings();
    settings.redis.key_prefix = prefix_splitting(&cluster);
    for queue in ["probe", "prices"] {
        settings
            .queues
            .overrides
            .entry(queue.to_owned())
            .or_default()
            .redis_url = Some(Secret::new(cluster.url()));
    }
    let probe_q = ProbeJob::queue();
    let prices_q = PricesJob::queue();
    let probe_settings = settings.queues.overrides.get_mut("probe").unwrap();
    probe_settings.retry_base_delay_ms = Some(20);
    probe_settings.retry_max_delay_ms = Some(50);
    probe_settings.max_retries = Some(2);
    let keys = Keys::new(settings.redis.key_prefix.clone());

    let main_conn = redis_conn::connect(&settings.redis).await.unwrap();
    let queues: QueueRedis = redis_conn::connect_queues(&settings, main_conn.clone())
        .await
        .unwrap();
    assert!(queues.conn(&probe_q).is_cluster());
    assert!(queues.own_redis(&probe_q).is_some());
    assert!(
        queues
            .own_redis(&QueueName::parse("market").unwrap())
            .is_none()
    );
    let producer = Producer::new(queues.clone(), keys.clone(), settings.queues.clone());

    // Enqueue: 30 that succeed, one that fails once then succeeds, one that dies.
    let mut ok_ids = Vec::new();
    for seq in 0..30 {
        ok_ids.push(enqueue(&producer, &probe(seq)).await);
    }
    let flaky_id = enqueue(&producer, &probe(100)).await;
    let doomed = ProbeJob {
        seq: 200,
        fail: Some(ProbeFailure::Permanent),
        ..ProbeJob::default()
    };
    let doomed_id = enqueue(&producer, &doomed).await;
    // And work on the other queue, which no worker drains here.
    let mut prices_ids = Vec::new();
    for _ in 0..5 {
        prices_ids.push(
            producer
                .enqueue(&PricesJob::default(), EnqueueOptions::default())
                .await
                .unwrap(),
        );
    }

    // The two queues' keys are on two different primaries, and only there.
    let probe_node = cluster.node_of(&keys.queue(&probe_q).active());
    let prices_node = cluster.node_of(&keys.queue(&prices_q).active());
    assert_ne!(probe_node, prices_node);
    let tag = |q: &QueueName| format!("{{{}:q:{q}}}*", keys.prefix());
    assert!(!cluster.keys_on(probe_node, &tag(&probe_q)).is_empty());
    assert!(!cluster.keys_on(prices_node, &tag(&prices_q)).is_empty());
    for node in 0..cluster.len() {
        if node != probe_node {
            assert_eq!(cluster.keys_on(node, &tag(&probe_q)), Vec::<String>::new());
        }
        if node != prices_node {
            assert_eq!(cluster.keys_on(node, &tag(&prices_q)), Vec::<String>::new());
        }
    }
    // Nothing of the queues went to the deployment's own Redis.
    let on_main: Vec<String> = redis::cmd("KEYS")
        .arg(keys.queues_pattern())
        .query_async(&mut main_conn.clone())
        .await
        .unwrap();
    assert_eq!(on_main, Vec::<String>::new());

    // A worker on the cluster: fetch, ack, retry, dead.
    let failed_once = Arc::new(Mutex::new(HashSet::new()));
    let handler = move |job: ProbeJob, _ctx| {
        let failed_once = failed_once.clone();
        async move {
            if job.fail == Some(ProbeFailure::Permanent) {
                return Err(JobError::permanent("doomed on purpose"));
            }
            if job.seq == 100 && failed_once.lock().unwrap().insert(job.seq) {
                return Err(JobError::transient("fails once on purpose"));
            }
            Ok(Some(serde_json::json!({ "seq": job.seq })))
        }
    };
    let stop = CancellationToken::new();
    let runtime = WorkerRuntime::new(
        redis_conn::queue_client(&settings, &probe_q).unwrap(),
        queues.conn(&probe_q),
        keys.clone(),
        settings.queues.for_queue(&probe_q),
    );
    let worker = tokio::spawn({
        let stop = stop.clone();
        async move { runtime.run(handler, stop).await.unwrap() }
    });

    let probe_settings = settings.queues.for_queue(&probe_q);
    let deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let s = queue_stats(&queues.conn(&probe_q), &keys, &probe_q, &probe_settings)
            .await
            .unwrap();
        if s.done == 31 && s.dead == 1 {
            break s;
        }
        assert!(Instant::now() < deadline, "not drained in 30 s: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((stats.waiting, stats.in_flight), (0, 0), "{stats:?}");
    assert_eq!(stats.live_workers, 1, "{stats:?}");

    // Lookup, by queue and across the product queues (`probe` is not one).
    let conn = queues.conn(&probe_q);
    let flaky_info = lookup_task(&conn, &keys, &probe_q, flaky_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(flaky_info.status, TaskStatus::Done);
    assert_eq!(flaky_info.attempts, 2, "one retry");
    let done = lookup_task(&conn, &keys, &probe_q, ok_ids[0])
        .await
        .unwrap();
    assert_eq!(done.unwrap().status, TaskStatus::Done);
    let found = find_task(&queues, &keys, prices_ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.queue, found.status),
        (prices_q.clone(), TaskStatus::Pending)
    );

    // Dead letters: listed, retried (dies again), purged.
    let page = list_dead(&conn, &keys, &probe_q, 0, 10).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.tasks[0].id, doomed_id);
    let first_death = page.tasks[0].finished_at.unwrap();
    retry_dead(&conn, &keys, &settings.queues, &probe_q, doomed_id)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = lookup_task(&conn, &keys, &probe_q, doomed_id)
            .await
            .unwrap()
            .unwrap();
        if info.status == TaskStatus::Dead && info.finished_at > Some(first_death) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "retried dead task not dead again: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    purge_dead(&conn, &keys, &probe_q, doomed_id).await.unwrap();
    assert_eq!(
        list_dead(&conn, &keys, &probe_q, 0, 10)
            .await
            .unwrap()
            .total,
        0
    );

    // The other queue: stats and purge, on its own primary.
    let prices_conn = queues.conn(&prices_q);
    let prices_settings = settings.queues.for_queue(&prices_q);
    let s = queue_stats(&prices_conn, &keys, &prices_q, &prices_settings)
        .await
        .unwrap();
    assert_eq!(s.waiting, 5);
    let purged = purge_waiting(&prices_conn, &keys, &prices_q).await.unwrap();
    assert_eq!(purged.waiting, 5);
    let s = queue_stats(&prices_conn, &keys, &prices_q, &prices_settings)
        .await
        .unwrap();
    assert_eq!(s.waiting, 0);

    // Retention and the worker sweep (its SCAN must go to the queue's primary).
    stop.cancel();
    worker.await.unwrap();
    let pruned = prune_finished(&conn, &keys, &probe_q, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(pruned, 31, "every finished record");
    // A worker record with no registry entry, as a SIGKILLed incarnation leaves it.
    let stray = keys.queue(&probe_q).worker_metadata("gone-worker");
    let _: () = redis::cmd("HSET")
        .arg(&stray)
        .arg("backend_name")
        .arg("x")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let swept = sweep_dead_workers(&conn, &keys, &probe_q, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(swept >= 1, "the stray worker record is swept: {swept}");
    let left: i64 = redis::cmd("EXISTS")
        .arg(&stray)
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    assert_eq!(left, 0);
}
