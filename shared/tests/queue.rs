//! The queue layer against a real, private redis-server: enqueue, cap, idempotency, retries,
//! stats and lookup, with in-process workers.

mod common;

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use coinbeat_shared::{
    jobs::{Job, ProbeFailure, ProbeJob, Queue},
    queue::{
        EnqueueOptions, JobError, QueueError, TaskStatus, lookup_task, migrate_layout, queue_stats,
        stoppable,
    },
    submit,
    testing::command_calls,
};

use common::{Queues, probe};

impl Queues {
    /// Every key of this test's prefix with a dump of its value: a full picture of what we wrote.
    async fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut c = self.conn.clone();
        let mut keys: Vec<String> = Vec::new();
        for pattern in [self.keys.all_pattern(), self.keys.queues_pattern()] {
            let some: Vec<String> = redis::cmd("KEYS")
                .arg(pattern)
                .query_async(&mut c)
                .await
                .unwrap();
            keys.extend(some);
        }
        let mut out = BTreeMap::new();
        for k in keys {
            let v: Vec<u8> = redis::cmd("DUMP")
                .arg(&k)
                .query_async(&mut c)
                .await
                .unwrap();
            out.insert(k, v);
        }
        out
    }

    async fn wait_for_status(
        &self,
        id: coinbeat_shared::queue::TaskId,
        want: TaskStatus,
        within: Duration,
    ) {
        let deadline = Instant::now() + within;
        loop {
            let info = lookup_task(&self.conn, &self.keys, &ProbeJob::queue(), id)
                .await
                .unwrap();
            if info.as_ref().map(|i| i.status) == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "task never reached {want:?}: {info:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn an_idempotency_key_refuses_the_duplicate_until_its_ttl_expires() {
    let ctx = Queues::start(|_| {}).await;
    let opts = EnqueueOptions {
        idempotency_key: Some("tick:prices:1700000000".into()),
        idempotency_ttl: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let first = ctx.producer.enqueue(&probe(1), opts.clone()).await.unwrap();

    let second = ctx.producer.enqueue(&probe(2), opts.clone()).await;
    match second {
        Err(QueueError::Duplicate { key, existing }) => {
            assert_eq!(key, "tick:prices:1700000000");
            assert_eq!(existing, first);
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    let mut c = ctx.conn.clone();
    let idem_key = ctx
        .keys
        .queue(&ProbeJob::queue())
        .idempotency("tick:prices:1700000000");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&idem_key)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        ttl > 0 && ttl <= 1000,
        "the key must carry its TTL, got {ttl}"
    );
    let waiting = queue_stats(
        &ctx.conn,
        &ctx.keys,
        &ProbeJob::queue(),
        &ctx.settings.queues.defaults,
    )
    .await
    .unwrap()
    .waiting;
    assert_eq!(waiting, 1, "the duplicate must not be queued");

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let third = ctx.producer.enqueue(&probe(3), opts).await.unwrap();
    assert_ne!(third, first);
}

#[tokio::test]
async fn enqueue_past_the_cap_is_refused_and_changes_nothing() {
    let ctx = Queues::start(|s| s.queues.defaults.max_backlog = 5).await;
    for i in 0..4 {
        ctx.enqueue(probe(i)).await;
    }
    // A delayed task counts against the cap too.
    let delayed = EnqueueOptions {
        delay: Some(Duration::from_secs(3600)),
        ..Default::default()
    };
    ctx.producer.enqueue(&probe(4), delayed).await.unwrap();
    let before = ctx.snapshot().await;

    let err = ctx
        .producer
        .enqueue(&probe(5), EnqueueOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::Full {
                depth: 5,
                cap: 5,
                ..
            }
        ),
        "{err:?}"
    );
    let err = ctx
        .producer
        .enqueue_bulk(&[probe(6), probe(7)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::Full {
                depth: 5,
                cap: 5,
                ..
            }
        ),
        "{err:?}"
    );
    let keyed = EnqueueOptions {
        idempotency_key: Some("k".into()),
        ..Default::default()
    };
    assert!(matches!(
        ctx.producer.enqueue(&probe(8), keyed).await,
        Err(QueueError::Full { .. })
    ));

    assert_eq!(
        ctx.snapshot().await,
        before,
        "a refused enqueue must not write anything"
    );
}

#[tokio::test]
async fn a_bulk_batch_that_does_not_fit_writes_nothing_and_one_that_fits_is_queued_in_order() {
    let ctx = Queues::start(|s| s.queues.defaults.max_backlog = 3_000).await;
    let jobs: Vec<_> = (0..2_500).map(probe).collect();
    let ids = ctx.producer.enqueue_bulk(&jobs).await.unwrap();
    assert_eq!(ids.len(), 2_500);
    let before = ctx.snapshot().await;
    let more: Vec<_> = (0..2_100).map(probe).collect();
    assert!(matches!(
        ctx.producer.enqueue_bulk(&more).await,
        Err(QueueError::Full { depth: 2_500, .. })
    ));
    assert_eq!(ctx.snapshot().await, before);

    let mut c = ctx.conn.clone();
    let active: Vec<String> = redis::cmd("LRANGE")
        .arg(ctx.keys.queue(&ProbeJob::queue()).active())
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap();
    let expected: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        active, expected,
        "immediate tasks go straight to the active list, in order"
    );
}

#[tokio::test]
async fn a_permanent_error_kills_the_task_after_one_attempt_with_its_reason() {
    let ctx = Queues::start(|s| s.queues.defaults.max_retries = 5).await;
    let calls = Arc::new(Mutex::new(0u32));
    let c2 = calls.clone();
    let (stop, h) = ctx.run_worker(move |job: ProbeJob, _| {
        let calls = c2.clone();
        async move {
            *calls.lock().unwrap() += 1;
            Err(JobError::permanent(format!(
                "bad address in task {}",
                job.seq
            )))
        }
    });
    let id = ctx.enqueue(probe(7)).await;
    ctx.wait_for_status(id, TaskStatus::Dead, Duration::from_secs(10))
        .await;

    let info = lookup_task(&ctx.conn, &ctx.keys, &ProbeJob::queue(), id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.attempts, 1);
    assert_eq!(info.last_error.as_deref(), Some("bad address in task 7"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        *calls.lock().unwrap(),
        1,
        "a permanent error is never retried"
    );
    stop.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn a_transient_error_is_retried_the_configured_number_of_times_with_growing_delays_then_dead()
{
    let ctx = Queues::start(|s| {
        let q = &mut s.queues.defaults;
        q.max_retries = 3;
        q.retry_base_delay_ms = 400;
        q.retry_max_delay_ms = 10_000;
        q.poll_interval_ms = 10;
    })
    .await;
    let calls = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let c2 = calls.clone();
    let (stop, h) = ctx.run_worker(move |_job: ProbeJob, _| {
        let calls = c2.clone();
        async move {
            calls.lock().unwrap().push(Instant::now());
            Err(JobError::transient("upstream answered 503"))
        }
    });
    let id = ctx.enqueue(probe(1)).await;
    ctx.wait_for_status(id, TaskStatus::Dead, Duration::from_secs(20))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let runs = calls.lock().unwrap().clone();
    assert_eq!(runs.len(), 4, "one attempt plus exactly 3 retries");
    let delays: Vec<u128> = runs.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    // Retry n waits between half and all of 400 ms × 2^(n-1): [200,400], [400,800], [800,1600].
    for (n, d) in delays.iter().enumerate() {
        let nominal = 400u128 << n;
        assert!(
            *d >= nominal / 2 && *d <= nominal + 400,
            "retry {} waited {d} ms (nominal {nominal})",
            n + 1
        );
    }
    assert!(delays[2] > delays[0], "delays grow: {delays:?}");
    let info = lookup_task(&ctx.conn, &ctx.keys, &ProbeJob::queue(), id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.attempts, 4);
    assert_eq!(info.last_error.as_deref(), Some("upstream answered 503"));
    stop.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn a_throttled_error_waits_at_least_the_upstreams_retry_after_without_using_an_attempt() {
    let ctx = Queues::start(|s| {
        let q = &mut s.queues.defaults;
        q.max_retries = 3;
        q.retry_base_delay_ms = 10;
        q.retry_max_delay_ms = 10;
        q.poll_interval_ms = 10;
    })
    .await;
    let (stop, h) = ctx.run_worker(|_job: ProbeJob, _| async move {
        Err(JobError::throttled(
            "429 from upstream",
            Duration::from_millis(1_500),
        ))
    });
    let id = ctx.enqueue(probe(1)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let info = loop {
        let info = lookup_task(&ctx.conn, &ctx.keys, &ProbeJob::queue(), id)
            .await
            .unwrap()
            .unwrap();
        if info.last_error.is_some() {
            break info;
        }
        assert!(Instant::now() < deadline, "never throttled: {info:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The queue's own backoff is 5-10 ms; the upstream asked for 1.5 s.
    assert!(
        info.run_at.unwrap() >= info.enqueued_at.unwrap() + 1_500,
        "retry at {:?}, enqueued at {:?}",
        info.run_at,
        info.enqueued_at
    );
    assert_eq!(info.attempts, 0, "a throttle is not a failed attempt");
    assert_eq!(
        info.status,
        TaskStatus::Pending,
        "it waits, it has not failed"
    );
    assert_eq!(info.last_error.as_deref(), Some("429 from upstream"));
    stop.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn throttles_never_use_up_retries_and_a_task_throttled_past_its_bound_is_dead_saying_so() {
    let ctx = Queues::start(|s| {
        let q = &mut s.queues.defaults;
        // One attempt in all: a single counted failure would kill the task.
        q.max_retries = 0;
        q.poll_interval_ms = 10;
        q.max_throttled_secs = 1;
    })
    .await;
    let runs = Arc::new(AtomicU64::new(0));
    let seen = runs.clone();
    // seq 1: throttled four times for 100 ms, then done. seq 2: always throttled for 300 ms.
    let (stop, h) = ctx.run_worker(move |job: ProbeJob, _| {
        let seen = seen.clone();
        async move {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            match job.seq {
                1 if n < 4 => Err(JobError::throttled("slow down", Duration::from_millis(100))),
                1 => Ok(None),
                _ => Err(JobError::throttled("slow down", Duration::from_millis(300))),
            }
        }
    });
    let first = ctx.enqueue(probe(1)).await;
    ctx.wait_for_status(first, TaskStatus::Done, Duration::from_secs(10))
        .await;
    let done = lookup_task(&ctx.conn, &ctx.keys, &ProbeJob::queue(), first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.attempts, 1, "four throttles and one run: one attempt");

    let second = ctx.enqueue(probe(2)).await;
    ctx.wait_for_status(second, TaskStatus::Dead, Duration::from_secs(10))
        .await;
    let dead = lookup_task(&ctx.conn, &ctx.keys, &ProbeJob::queue(), second)
        .await
        .unwrap()
        .unwrap();
    let reason = dead.last_error.unwrap_or_default();
    assert!(reason.contains("max_throttled_secs"), "{reason}");
    assert_eq!(dead.attempts, 0);
    stop.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn a_callers_idempotency_key_cannot_take_a_tick_the_beat_claims() {
    let ctx = Queues::start(|_| {}).await;
    let prices = Queue::Prices.name();
    let claim = ctx
        .keys
        .queue(&prices)
        .tick_claim("prices", 1_800_000_000_000);
    let args = serde_json::json!({"symbols": ["BTC"]});
    // A caller (API, CLI) sends the claim's key name, and its tail, as idempotency keys...
    for key in [claim.clone(), "claim:prices:1800000000000".to_owned()] {
        let opts = EnqueueOptions {
            idempotency_key: Some(key),
            ..Default::default()
        };
        submit::submit(&ctx.producer, &ctx.settings, Queue::Prices, &args, opts)
            .await
            .unwrap();
    }
    // ...and the beat still claims that tick, once.
    let tick = || EnqueueOptions {
        claim: Some(claim.clone()),
        ..Default::default()
    };
    let won = ctx
        .producer
        .enqueue_to(&prices, &serde_json::json!({}), tick())
        .await
        .expect("the tick is still free");
    let again = ctx
        .producer
        .enqueue_to(&prices, &serde_json::json!({}), tick())
        .await;
    assert!(
        matches!(again, Err(QueueError::Duplicate { existing, .. }) if existing == won),
        "{again:?}"
    );
}

#[tokio::test]
async fn purging_waiting_or_dead_tasks_never_frees_a_claimed_tick_for_a_lagging_replica() {
    let ctx = Queues::start(|_| {}).await;
    let prices = Queue::Prices.name();
    let q = ctx.keys.queue(&prices);
    let tick = |t: i64| EnqueueOptions {
        claim: Some(q.tick_claim("prices", t)),
        ..Default::default()
    };
    let payload = serde_json::json!({});
    // A tick claimed and enqueued, then purged before it ran.
    ctx.producer
        .enqueue_to(&prices, &payload, tick(1))
        .await
        .unwrap();
    let purged = coinbeat_shared::queue::purge_waiting(&ctx.conn, &ctx.keys, &prices)
        .await
        .unwrap();
    assert_eq!(purged.waiting, 1, "{purged:?}");
    // A replica that lags behind claims the same tick: nothing is enqueued.
    let late = ctx.producer.enqueue_to(&prices, &payload, tick(1)).await;
    assert!(
        matches!(late, Err(QueueError::Duplicate { .. })),
        "{late:?}"
    );

    // A tick whose task died, then was purged from the dead letters: still claimed.
    let id = ctx
        .producer
        .enqueue_to(&prices, &payload, tick(2))
        .await
        .unwrap();
    let mut c = ctx.conn.clone();
    let _: () = redis::pipe()
        .lrem(q.active(), 0, id.to_string())
        .sadd(q.dead(), id.to_string())
        .hset(q.meta(&id.to_string()), "status", "Killed")
        .query_async(&mut c)
        .await
        .unwrap();
    coinbeat_shared::queue::purge_all_dead(&ctx.conn, &ctx.keys, &prices)
        .await
        .unwrap();
    let late = ctx.producer.enqueue_to(&prices, &payload, tick(2)).await;
    assert!(
        matches!(late, Err(QueueError::Duplicate { .. })),
        "{late:?}"
    );
    assert_eq!(
        queue_stats(
            &ctx.conn,
            &ctx.keys,
            &prices,
            &ctx.settings.queues.for_queue(&prices)
        )
        .await
        .unwrap()
        .waiting,
        0
    );
}

#[tokio::test]
async fn queue_stats_agree_with_the_contents_of_redis() {
    let ctx = Queues::start(|s| {
        s.queues.defaults.concurrency = 2;
        s.queues.defaults.fetch_batch = 1;
        s.queues.defaults.max_retries = 0;
    })
    .await;
    let queue = ProbeJob::queue();
    let (stop, h) = ctx.run_worker(|job: ProbeJob, _| async move {
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
        match job.fail {
            Some(_) => Err(JobError::permanent("no")),
            None => Ok(None),
        }
    });
    // 3 done, 1 dead.
    let mut first = Vec::new();
    for i in 0..3 {
        first.push(ctx.enqueue(probe(i)).await);
    }
    let fail = ProbeJob {
        seq: 3,
        fail: Some(ProbeFailure::Permanent),
        ..ProbeJob::default()
    };
    let dead = ctx.enqueue(fail).await;
    for id in &first {
        ctx.wait_for_status(*id, TaskStatus::Done, Duration::from_secs(10))
            .await;
    }
    ctx.wait_for_status(dead, TaskStatus::Dead, Duration::from_secs(10))
        .await;
    // 2 long tasks occupy the worker, the rest wait; 3 are delayed an hour.
    let long = |seq| ProbeJob {
        seq,
        sleep_ms: 30_000,
        ..ProbeJob::default()
    };
    let running = [ctx.enqueue(long(10)).await, ctx.enqueue(long(11)).await];
    for id in running {
        ctx.wait_for_status(id, TaskStatus::Running, Duration::from_secs(10))
            .await;
    }
    for i in 20..25 {
        ctx.enqueue(long(i)).await;
    }
    for i in 30..33 {
        let later = EnqueueOptions {
            delay: Some(Duration::from_secs(3600)),
            ..Default::default()
        };
        ctx.producer.enqueue(&probe(i), later).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stats = queue_stats(&ctx.conn, &ctx.keys, &queue, &ctx.settings.queues.defaults)
        .await
        .unwrap();

    // The same figures read with plain commands.
    let k = ctx.keys.queue(&queue);
    let mut c = ctx.conn.clone();
    let llen: u64 = redis::cmd("LLEN")
        .arg(k.active())
        .query_async(&mut c)
        .await
        .unwrap();
    let zcard: u64 = redis::cmd("ZCARD")
        .arg(k.delayed())
        .query_async(&mut c)
        .await
        .unwrap();
    // In flight from the sets themselves, found by their key pattern, not through the worker
    // registry the stats script walks.
    let sets: Vec<String> = redis::cmd("KEYS")
        .arg(k.inflight_pattern())
        .query_async(&mut c)
        .await
        .unwrap();
    let mut in_flight = 0u64;
    for set in &sets {
        let n: u64 = redis::cmd("SCARD")
            .arg(set)
            .query_async(&mut c)
            .await
            .unwrap();
        in_flight += n;
    }
    assert_eq!(stats.waiting, llen);
    assert_eq!(stats.scheduled_due + stats.scheduled_future, zcard);
    assert_eq!(stats.in_flight, in_flight);
    // And the figures the mix was built to have.
    assert_eq!(stats.done, 3);
    assert_eq!(stats.dead, 1);
    assert_eq!(stats.scheduled_future, 3);
    assert_eq!(stats.scheduled_due, 0);
    assert_eq!(stats.waiting + stats.in_flight, 7, "{stats:?}");
    assert!(stats.in_flight >= 2, "{stats:?}");
    assert_eq!(stats.live_workers, 1);
    assert_eq!(stats.registered_workers, 1);
    let oldest = stats.oldest_waiting_ms.expect("tasks wait");
    assert!(
        (250..10_000).contains(&oldest),
        "oldest waiting {oldest} ms"
    );
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(1), h).await;
}

#[tokio::test]
async fn an_unknown_task_id_is_not_found_and_a_payload_the_worker_cannot_read_is_dead() {
    let ctx = Queues::start(|_| {}).await;
    let queue = ProbeJob::queue();
    let unknown = coinbeat_shared::queue::TaskId::generate();
    assert!(
        lookup_task(&ctx.conn, &ctx.keys, &queue, unknown)
            .await
            .unwrap()
            .is_none()
    );

    let (stop, h) = ctx.run_worker(|_job: ProbeJob, _| async move { Ok(None) });
    let id = ctx
        .producer
        .enqueue_to(
            &queue,
            &serde_json::json!({"seq": "not a number"}),
            EnqueueOptions::default(),
        )
        .await
        .unwrap();
    ctx.wait_for_status(id, TaskStatus::Dead, Duration::from_secs(10))
        .await;
    let info = lookup_task(&ctx.conn, &ctx.keys, &queue, id)
        .await
        .unwrap()
        .unwrap();
    assert!(info.last_error.unwrap().starts_with("invalid payload"));
    stop.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn pruning_deletes_finished_task_records_past_the_retention_and_keeps_the_rest() {
    let ctx = Queues::start(|s| s.queues.defaults.max_retries = 0).await;
    let queue = ProbeJob::queue();
    let (stop, h) = ctx.run_worker(|job: ProbeJob, _| async move {
        match job.fail {
            Some(_) => Err(JobError::permanent("no")),
            None => Ok(Some(serde_json::json!({"seq": job.seq}))),
        }
    });
    let mut finished = Vec::new();
    for i in 0..3 {
        finished.push(ctx.enqueue(probe(i)).await);
    }
    let fail = ProbeJob {
        seq: 9,
        fail: Some(ProbeFailure::Permanent),
        ..ProbeJob::default()
    };
    finished.push(ctx.enqueue(fail).await);
    for id in &finished[..3] {
        ctx.wait_for_status(*id, TaskStatus::Done, Duration::from_secs(10))
            .await;
    }
    ctx.wait_for_status(finished[3], TaskStatus::Dead, Duration::from_secs(10))
        .await;
    stop.cancel();
    h.await.unwrap();
    let later = EnqueueOptions {
        delay: Some(Duration::from_secs(3600)),
        ..Default::default()
    };
    let pending = ctx.producer.enqueue(&probe(20), later).await.unwrap();

    let kept = coinbeat_shared::queue::prune_finished(
        &ctx.conn,
        &ctx.keys,
        &queue,
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert_eq!(kept, 0, "nothing is older than an hour");
    let pruned =
        coinbeat_shared::queue::prune_finished(&ctx.conn, &ctx.keys, &queue, Duration::ZERO)
            .await
            .unwrap();
    assert_eq!(pruned, 4);

    for id in finished {
        assert!(
            lookup_task(&ctx.conn, &ctx.keys, &queue, id)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        lookup_task(&ctx.conn, &ctx.keys, &queue, pending)
            .await
            .unwrap()
            .is_some(),
        "unfinished tasks stay"
    );
    let stats = queue_stats(&ctx.conn, &ctx.keys, &queue, &ctx.settings.queues.defaults)
        .await
        .unwrap();
    assert_eq!((stats.done, stats.dead), (0, 0));
    let k = ctx.keys.queue(&queue);
    let mut c = ctx.conn.clone();
    let data_len: u64 = redis::cmd("HLEN")
        .arg(k.data())
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(data_len, 1, "only the pending task's payload is left");
}

#[tokio::test]
async fn an_idle_worker_is_woken_by_enqueue_rather_than_by_its_next_poll() {
    // Poll and heartbeat far apart: only the wake-up signal can start the task in time.
    let ctx = Queues::start(|s| {
        s.queues.defaults.poll_interval_ms = 60_000;
        s.queues.defaults.heartbeat_secs = 60;
        s.queues.defaults.orphan_after_secs = 180;
    })
    .await;
    let (stop, h) = ctx.run_worker(|_job: ProbeJob, _| async move { Ok(None) });
    // Let the worker register, fetch nothing and go idle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = ctx.enqueue(probe(1)).await;
    ctx.wait_for_status(id, TaskStatus::Done, Duration::from_secs(10))
        .await;
    stop.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn single_flight_holds_while_its_task_waits_lets_go_when_it_dies_and_a_dead_retry_takes_it_back()
 {
    // An idempotency TTL far shorter than the task waits.
    let ctx = Queues::start(|s| {
        s.queues.defaults.idempotency_ttl_secs = 1;
        s.queues.defaults.max_retries = 0;
        s.queues.defaults.poll_interval_ms = 10;
    })
    .await;
    let queue = ProbeJob::queue();
    let flight = || EnqueueOptions {
        idempotency_key: Some("flight:probe:same-args".into()),
        single_flight: true,
        ..Default::default()
    };
    let job = ProbeJob {
        seq: 7,
        fail: Some(ProbeFailure::Permanent),
        ..ProbeJob::default()
    };
    let first = ctx.producer.enqueue(&job, flight()).await.unwrap();
    // Past the idempotency TTL, with no worker: the identical request still joins.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let again = ctx.producer.enqueue(&job, flight()).await;
    assert!(
        matches!(again, Err(QueueError::Duplicate { existing, .. }) if existing == first),
        "{again:?}"
    );

    // It dies: the key goes with it.
    let (stop, h) =
        ctx.run_worker(|_job: ProbeJob, _| async move { Err(JobError::permanent("no")) });
    ctx.wait_for_status(first, TaskStatus::Dead, Duration::from_secs(10))
        .await;
    stop.cancel();
    h.await.unwrap();
    let key = ctx.keys.queue(&queue).idempotency("flight:probe:same-args");
    let held: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert_eq!(held, None, "a dead task holds no key");

    // Retried, it holds the key again: an identical request joins it.
    coinbeat_shared::queue::retry_dead(&ctx.conn, &ctx.keys, &ctx.settings.queues, &queue, first)
        .await
        .unwrap();
    let joined = ctx.producer.enqueue(&job, flight()).await;
    assert!(
        matches!(joined, Err(QueueError::Duplicate { existing, .. }) if existing == first),
        "{joined:?}"
    );
}

/// A deployment upgraded from the layout before the hash tag (`{prefix}:q:{queue}:…`): the
/// worker's start moves every key into the current layout, merged with tasks enqueued since, so
/// nothing waiting, held by a worker of the old release, or deduplicated is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_the_layout_before_the_hash_tag_are_moved_and_every_task_runs_once() {
    let ctx = Queues::start(|_| {}).await;
    let queue = ProbeJob::queue();
    let k = ctx.keys.queue(&queue);
    let mut c = ctx.conn.clone();
    // What the old release left: five waiting, one delayed, one under an idempotency key, and
    // one held by a worker of the old release.
    for seq in 0..5 {
        ctx.enqueue(probe(seq)).await;
    }
    let delayed = EnqueueOptions {
        delay: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    ctx.producer.enqueue(&probe(5), delayed).await.unwrap();
    let keyed = EnqueueOptions {
        idempotency_key: Some("keep".into()),
        idempotency_ttl: Some(Duration::from_secs(600)),
        ..Default::default()
    };
    let keyed_id = ctx
        .producer
        .enqueue(&probe(6), keyed.clone())
        .await
        .unwrap();
    let held: String = redis::cmd("RPOP")
        .arg(k.active())
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = redis::pipe()
        .cmd("SADD")
        .arg(k.inflight("old-worker"))
        .arg(&held)
        .cmd("ZADD")
        .arg(k.workers())
        .arg(1)
        .arg("old-worker")
        .query_async(&mut c)
        .await
        .unwrap();
    let current: Vec<String> = redis::cmd("KEYS")
        .arg(ctx.keys.queues_pattern())
        .query_async(&mut c)
        .await
        .unwrap();
    // Written out here, not asked of the key module: the old release's names, as it wrote them.
    let old_ns = format!("{}:q:{queue}", ctx.keys.prefix());
    for key in &current {
        let rest = key.strip_prefix(k.namespace()).unwrap();
        let _: () = redis::cmd("RENAME")
            .arg(key)
            .arg(format!("{old_ns}{rest}"))
            .query_async(&mut c)
            .await
            .unwrap();
    }
    // Upgraded producers enqueue under the new names before the worker starts.
    for seq in 7..9 {
        ctx.enqueue(probe(seq)).await;
    }

    let moved = migrate_layout(&ctx.conn, &ctx.keys, &queue).await.unwrap();
    assert!(moved >= 10, "{moved} keys moved");
    let left: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{old_ns}:*"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(left, Vec::<String>::new(), "old keys left");
    assert_eq!(
        migrate_layout(&ctx.conn, &ctx.keys, &queue).await.unwrap(),
        0,
        "a second run finds nothing"
    );
    // The idempotency key still holds, with its TTL.
    match ctx.producer.enqueue(&probe(99), keyed).await {
        Err(QueueError::Duplicate { existing, .. }) => assert_eq!(existing, keyed_id),
        other => panic!("expected the moved key to refuse a duplicate, got {other:?}"),
    }
    let ttl: i64 = redis::cmd("TTL")
        .arg(k.idempotency("keep"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 600, "{ttl}");

    let runs = Arc::new(Mutex::new(Vec::new()));
    let (stop, handle) = ctx.run_worker({
        let runs = runs.clone();
        move |job: ProbeJob, _| {
            let runs = runs.clone();
            async move {
                runs.lock().unwrap().push(job.seq);
                Ok(None)
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs.lock().unwrap().len() < 9 {
        assert!(Instant::now() < deadline, "ran {:?}", runs.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    handle.await.unwrap();
    let mut ran = runs.lock().unwrap().clone();
    ran.sort_unstable();
    assert_eq!(ran, (0..9).collect::<Vec<_>>(), "every task once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_finishing_together_are_acked_many_per_script_call_each_with_its_own_outcome() {
    const N: u64 = 400;
    let ctx = Queues::start(|s| {
        let q = &mut s.queues.defaults;
        q.concurrency = 64;
        q.fetch_batch = 64;
        // Two attempts; a retry or a throttle waits a minute, so each task's first outcome stays.
        q.max_retries = 1;
        q.retry_base_delay_ms = 120_000;
        q.retry_max_delay_ms = 120_000;
        q.poll_interval_ms = 1_000;
    })
    .await;
    let queue = ProbeJob::queue();
    // seq % 4: 0 done with a result, 1 transient (retried later), 2 permanent (dead),
    // 3 throttled for a minute (pending, no attempt used).
    let jobs: Vec<ProbeJob> = (0..N).map(probe).collect();
    let ids = ctx.producer.enqueue_bulk(&jobs).await.unwrap();
    let scripts_before = command_calls(&ctx.conn, "evalsha").await;
    let (stop, h) = ctx.run_worker(|job: ProbeJob, _| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        match job.seq % 4 {
            0 => Ok(Some(serde_json::json!({ "seq": job.seq }))),
            1 => Err(JobError::transient(format!("transient {}", job.seq))),
            2 => Err(JobError::permanent(format!("permanent {}", job.seq))),
            _ => Err(JobError::throttled(
                format!("throttled {}", job.seq),
                Duration::from_secs(60),
            )),
        }
    });
    // Every task has its first outcome: none is waiting or held any more.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = queue_stats(&ctx.conn, &ctx.keys, &queue, &ctx.settings.queues.defaults)
            .await
            .unwrap();
        if s.waiting == 0 && s.in_flight == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tasks still waiting or running: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let scripts = command_calls(&ctx.conn, "evalsha").await - scripts_before;
    stop.cancel();
    h.await.unwrap();

    // One script call per task would be at least N, on top of fetches, heartbeats and ticks.
    assert!(
        scripts < N / 4,
        "{scripts} script calls for {N} tasks: acks are not batched"
    );
    for (seq, id) in (0..N).zip(&ids) {
        let info = lookup_task(&ctx.conn, &ctx.keys, &queue, *id)
            .await
            .unwrap()
            .unwrap();
        match seq % 4 {
            0 => {
                assert_eq!(info.status, TaskStatus::Done, "{seq}: {info:?}");
                assert_eq!(info.attempts, 1, "{seq}: {info:?}");
                assert_eq!(info.result, Some(serde_json::json!({ "seq": seq })));
                assert!(info.finished_at.is_some(), "{seq}: {info:?}");
            }
            1 => {
                assert_eq!(info.status, TaskStatus::Failed, "{seq}: {info:?}");
                assert_eq!(info.attempts, 1, "{seq}: {info:?}");
                assert_eq!(info.last_error, Some(format!("transient {seq}")));
                // Equal jitter: at least half of the 2-minute backoff.
                let (run_at, enqueued) = (info.run_at.unwrap(), info.enqueued_at.unwrap());
                assert!(run_at >= enqueued + 60_000, "{seq}: {info:?}");
            }
            2 => {
                assert_eq!(info.status, TaskStatus::Dead, "{seq}: {info:?}");
                assert_eq!(info.attempts, 1, "{seq}: {info:?}");
                assert_eq!(info.last_error, Some(format!("permanent {seq}")));
                assert!(info.finished_at.is_some(), "{seq}: {info:?}");
            }
            _ => {
                assert_eq!(info.status, TaskStatus::Pending, "{seq}: {info:?}");
                assert_eq!(info.attempts, 0, "a throttle is no attempt: {info:?}");
                assert_eq!(info.last_error, Some(format!("throttled {seq}")));
                let (run_at, enqueued) = (info.run_at.unwrap(), info.enqueued_at.unwrap());
                assert!(run_at >= enqueued + 60_000, "{seq}: {info:?}");
            }
        }
    }
    let s = queue_stats(&ctx.conn, &ctx.keys, &queue, &ctx.settings.queues.defaults)
        .await
        .unwrap();
    assert_eq!((s.done, s.dead), (N / 4, N / 4), "{s:?}");
    assert_eq!(s.scheduled_future, N / 2, "{s:?}");
}

#[tokio::test]
async fn at_shutdown_a_job_only_waiting_goes_back_to_the_queue_and_no_call_in_progress_is_cut() {
    // A shutdown timeout far longer than the test: only the stop of the waiting jobs ends it.
    let ctx = Queues::start(|s| s.queues.defaults.shutdown_timeout_secs = 120).await;
    let (started, mut began) = tokio::sync::mpsc::unbounded_channel();
    let finished = Arc::new(AtomicU64::new(0));
    let done = finished.clone();
    let (stop, worker) = ctx.run_worker(move |job: ProbeJob, _| {
        let (started, done) = (started.clone(), done.clone());
        async move {
            started.send(job.seq).unwrap();
            match job.seq {
                // As a job waiting for a rate limit's permit.
                1 => stoppable::sleep(Duration::from_secs(3_600)).await,
                // Batches in parallel: one waits for a permit while another is calling. The
                // call is not cut; the job stops once it is done.
                3 => {
                    let calling = async {
                        let _busy = stoppable::busy();
                        tokio::time::sleep(Duration::from_millis(1_500)).await;
                        done.fetch_add(10, Ordering::SeqCst);
                    };
                    tokio::join!(stoppable::sleep(Duration::from_secs(3_600)), calling);
                }
                // As a job calling an upstream: not a wait it can be stopped in.
                _ => tokio::time::sleep(Duration::from_millis(1_500)).await,
            }
            done.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        }
    });
    let waiting = ctx.enqueue(probe(1)).await;
    let working = ctx.enqueue(probe(2)).await;
    let both = ctx.enqueue(probe(3)).await;
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(10), began.recv())
            .await
            .expect("every job starts")
            .unwrap();
    }

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("the worker stops without waiting out its 120 s timeout")
        .unwrap();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        11,
        "the working job ran to its end, and so did the call of the job doing both"
    );
    let queue = ProbeJob::queue();
    let info = |id| lookup_task(&ctx.conn, &ctx.keys, &queue, id);
    let worked = info(working).await.unwrap().unwrap();
    assert_eq!(worked.status, TaskStatus::Done, "{worked:?}");
    for id in [waiting, both] {
        let back = info(id).await.unwrap().unwrap();
        assert_eq!(
            back.status,
            TaskStatus::Pending,
            "back in the queue: {back:?}"
        );
        assert_eq!(back.attempts, 0, "no attempt spent: {back:?}");
    }

    // The next worker runs them from their start.
    let (stop, worker) = ctx.run_worker(|_: ProbeJob, _| async { Ok(None) });
    for id in [waiting, both] {
        ctx.wait_for_status(id, TaskStatus::Done, Duration::from_secs(10))
            .await;
    }
    stop.cancel();
    worker.await.unwrap();
}
