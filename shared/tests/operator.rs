//! The operator toolkit against a real, private redis-server: dead letters (list, show, retry,
//! purge), queue purge, the worker list, and pausing, resuming and running schedule entries.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use coinbeat_shared::{
    Settings,
    jobs::{Job, ProbeJob, Queue},
    queue::{
        DeadError, EnqueueOptions, JobContext, JobError, QueueError, TaskId, TaskStatus,
        WaitingError, WaitingPlace, dead_task, delete_waiting, list_dead, list_workers,
        lookup_task, purge_all_dead, purge_dead, purge_waiting, queue_stats, retry_all_dead,
        retry_dead, run_waiting_now, sweep_dead_workers,
    },
    schedule_control::{ControlError, pause, read_pause, resume, run_now},
    schedule_history::{HISTORY_LEN, RunRecord, RunTrigger, push_run, read_history, read_runs},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use common::{Queues, probe};

/// A private Redis whose queues run one task at a time (so tasks die in the order they were
/// enqueued), poll often and never retry, after `tune`.
async fn setup(tune: impl FnOnce(&mut Settings)) -> Queues {
    Queues::start(|settings| {
        settings.queues.defaults.concurrency = 1;
        settings.queues.defaults.poll_interval_ms = 50;
        settings.queues.defaults.max_retries = 0;
        tune(settings);
    })
    .await
}

/// A probe worker that fails every task permanently (`boom {seq}`) while `failing` is set and
/// succeeds otherwise; tasks with `sleep_ms` hold their slot that long.
struct ProbeWorker {
    failing: Arc<AtomicBool>,
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl ProbeWorker {
    async fn stop(self) {
        self.stop.cancel();
        self.handle.await.unwrap();
    }
}

impl Queues {
    fn probe(&self) -> coinbeat_shared::jobs::QueueName {
        ProbeJob::queue()
    }

    fn spawn_worker(&self, failing: bool) -> ProbeWorker {
        let failing = Arc::new(AtomicBool::new(failing));
        let stop = CancellationToken::new();
        let rt = self.probe_runtime();
        let f = failing.clone();
        let handler = move |job: ProbeJob, _: JobContext| {
            let failing = f.load(Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(job.sleep_ms.max(3))).await;
                if failing {
                    Err(JobError::permanent(format!("boom {}", job.seq)))
                } else {
                    Ok(Some(json!({ "seq": job.seq })))
                }
            }
        };
        let s = stop.clone();
        let handle = tokio::spawn(async move { rt.run(handler, s).await.unwrap() });
        ProbeWorker {
            failing,
            stop,
            handle,
        }
    }

    async fn status(&self, id: TaskId) -> Option<TaskStatus> {
        lookup_task(&self.conn, &self.keys, &self.probe(), id)
            .await
            .unwrap()
            .map(|t| t.status)
    }

    async fn wait_for(&self, id: TaskId, want: TaskStatus, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let status = self.status(id).await;
            if status == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "task {id} never reached {want:?}: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Enqueues a probe task that holds a worker's slot for 1.5 s, and waits until it runs.
    async fn hold_the_slot(&self, seq: u64) -> TaskId {
        let running = self
            .enqueue(ProbeJob {
                seq,
                sleep_ms: 1_500,
                ..ProbeJob::default()
            })
            .await;
        self.wait_for(running, TaskStatus::Running, Duration::from_secs(5))
            .await;
        running
    }

    /// Enqueues `n` probe tasks (seq 1..=n) and lets a failing worker kill them, one by one.
    async fn dead_tasks(&self, n: u64) -> Vec<TaskId> {
        let worker = self.spawn_worker(true);
        let mut ids = Vec::new();
        for seq in 1..=n {
            ids.push(self.enqueue(probe(seq)).await);
        }
        for id in &ids {
            self.wait_for(*id, TaskStatus::Dead, Duration::from_secs(10))
                .await;
        }
        worker.stop().await;
        ids
    }

    async fn exists(&self, key: &str) -> bool {
        redis::cmd("EXISTS")
            .arg(key)
            .query_async::<i64>(&mut self.conn.clone())
            .await
            .unwrap()
            == 1
    }

    async fn is_member(&self, set: &str, id: TaskId) -> bool {
        redis::cmd("SISMEMBER")
            .arg(set)
            .arg(id.to_string())
            .query_async::<i64>(&mut self.conn.clone())
            .await
            .unwrap()
            == 1
    }

    async fn finished_score(&self, id: TaskId) -> Option<f64> {
        redis::cmd("ZSCORE")
            .arg(self.keys.queue(&self.probe()).finished())
            .arg(id.to_string())
            .query_async(&mut self.conn.clone())
            .await
            .unwrap()
    }

    async fn has_payload(&self, id: TaskId) -> bool {
        redis::cmd("HEXISTS")
            .arg(self.keys.queue(&self.probe()).data())
            .arg(id.to_string())
            .query_async::<i64>(&mut self.conn.clone())
            .await
            .unwrap()
            == 1
    }
}

#[tokio::test]
async fn dead_tasks_are_listed_newest_first_in_bounded_pages_and_shown_with_payload_and_error() {
    let ctx = setup(|_| {}).await;
    let ids = ctx.dead_tasks(3).await;
    let q = ctx.probe();

    let first = list_dead(&ctx.conn, &ctx.keys, &q, 0, 2).await.unwrap();
    assert_eq!(first.total, 3);
    let listed: Vec<TaskId> = first.tasks.iter().map(|t| t.id).collect();
    assert_eq!(listed, [ids[2], ids[1]], "newest death first");
    let newest = &first.tasks[0];
    assert_eq!(newest.queue, q);
    assert_eq!((newest.attempts, newest.max_attempts), (1, 1));
    assert_eq!(newest.last_error.as_deref(), Some("boom 3"));
    assert!(newest.finished_at.unwrap() >= first.tasks[1].finished_at.unwrap());
    assert!(newest.enqueued_at.is_some());
    let second = list_dead(&ctx.conn, &ctx.keys, &q, 2, 2).await.unwrap();
    assert_eq!(
        second.tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [ids[0]]
    );
    let huge = list_dead(&ctx.conn, &ctx.keys, &q, 0, 1_000_000)
        .await
        .unwrap();
    assert_eq!(huge.limit, 1_000, "a page is bounded");

    let shown = dead_task(&ctx.conn, &ctx.keys, &q, ids[0]).await.unwrap();
    assert_eq!(shown.status, TaskStatus::Dead);
    assert_eq!(shown.payload["seq"], 1);
    assert_eq!(shown.last_error.as_deref(), Some("boom 1"));
    assert!(shown.finished_at.is_some() && shown.enqueued_at.is_some());

    let pending = ctx.enqueue(probe(9)).await;
    assert!(matches!(
        dead_task(&ctx.conn, &ctx.keys, &q, pending).await,
        Err(DeadError::NotDead {
            status: TaskStatus::Pending,
            ..
        })
    ));
    assert!(matches!(
        dead_task(&ctx.conn, &ctx.keys, &q, TaskId::generate()).await,
        Err(DeadError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_retried_dead_task_is_waiting_again_with_attempts_reset_and_wakes_an_idle_worker() {
    // Poll and heartbeat far apart: only the wake-up signal can start the task in time.
    let ctx = setup(|s| {
        s.queues.defaults.poll_interval_ms = 60_000;
        s.queues.defaults.heartbeat_secs = 60;
        s.queues.defaults.orphan_after_secs = 180;
    })
    .await;
    let q = ctx.probe();
    let k = ctx.keys.queue(&q);
    let worker = ctx.spawn_worker(true);
    let id = ctx.enqueue(probe(1)).await;
    ctx.wait_for(id, TaskStatus::Dead, Duration::from_secs(10))
        .await;
    worker.failing.store(false, Ordering::SeqCst);
    // Let the worker go idle again.
    tokio::time::sleep(Duration::from_millis(300)).await;

    retry_dead(&ctx.conn, &ctx.keys, &ctx.settings.queues, &q, id)
        .await
        .unwrap();
    assert!(!ctx.is_member(&k.dead(), id).await, "out of the dead set");
    assert_eq!(
        ctx.finished_score(id).await,
        None,
        "out of the finished index"
    );
    ctx.wait_for(id, TaskStatus::Done, Duration::from_secs(10))
        .await;
    let info = lookup_task(&ctx.conn, &ctx.keys, &q, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        info.attempts, 1,
        "attempts counted afresh: the one successful run"
    );
    assert_eq!(info.result, Some(json!({ "seq": 1 })));
    assert_eq!(info.last_error, None);

    let err = retry_dead(&ctx.conn, &ctx.keys, &ctx.settings.queues, &q, id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DeadError::NotDead {
                status: TaskStatus::Done,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("is done, not dead"), "{err}");
    assert!(matches!(
        retry_dead(
            &ctx.conn,
            &ctx.keys,
            &ctx.settings.queues,
            &q,
            TaskId::generate()
        )
        .await,
        Err(DeadError::NotFound { .. })
    ));
    worker.stop().await;
}

#[tokio::test]
async fn retry_all_puts_every_dead_task_back_unless_they_do_not_fit_under_the_cap() {
    let ctx = setup(|s| s.queues.defaults.max_backlog = 4).await;
    let q = ctx.probe();
    let ids = ctx.dead_tasks(3).await;
    ctx.enqueue(probe(10)).await;
    ctx.enqueue(probe(11)).await;

    let err = retry_all_dead(&ctx.conn, &ctx.keys, &ctx.settings.queues, &q)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DeadError::Queue(QueueError::Full {
                depth: 2,
                cap: 4,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        list_dead(&ctx.conn, &ctx.keys, &q, 0, 10)
            .await
            .unwrap()
            .total,
        3,
        "nothing moved"
    );

    purge_waiting(&ctx.conn, &ctx.keys, &q).await.unwrap();
    let report = retry_all_dead(&ctx.conn, &ctx.keys, &ctx.settings.queues, &q)
        .await
        .unwrap();
    assert_eq!((report.retried, report.discarded), (3, 0));
    for id in ids {
        let t = lookup_task(&ctx.conn, &ctx.keys, &q, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.status, t.attempts, t.last_error),
            (TaskStatus::Pending, 0, None)
        );
    }
    let stats = queue_stats(&ctx.conn, &ctx.keys, &q, &ctx.settings.queues.for_queue(&q))
        .await
        .unwrap();
    assert_eq!((stats.waiting, stats.dead), (3, 0));
}

#[tokio::test]
async fn purging_dead_tasks_deletes_their_records_one_or_all_and_nothing_else() {
    let ctx = setup(|_| {}).await;
    let q = ctx.probe();
    let k = ctx.keys.queue(&q);
    let ids = ctx.dead_tasks(3).await;
    let pending = ctx.enqueue(probe(9)).await;

    purge_dead(&ctx.conn, &ctx.keys, &q, ids[0]).await.unwrap();
    assert_eq!(ctx.status(ids[0]).await, None);
    assert!(!ctx.exists(&k.meta(&ids[0].to_string())).await);
    assert!(!ctx.has_payload(ids[0]).await);
    assert_eq!(ctx.finished_score(ids[0]).await, None);
    assert!(matches!(
        purge_dead(&ctx.conn, &ctx.keys, &q, ids[0]).await,
        Err(DeadError::NotFound { .. })
    ));
    assert!(matches!(
        purge_dead(&ctx.conn, &ctx.keys, &q, pending).await,
        Err(DeadError::NotDead {
            status: TaskStatus::Pending,
            ..
        })
    ));

    assert_eq!(purge_all_dead(&ctx.conn, &ctx.keys, &q).await.unwrap(), 2);
    assert_eq!(ctx.status(ids[1]).await, None);
    assert_eq!(ctx.status(ids[2]).await, None);
    assert_eq!(
        list_dead(&ctx.conn, &ctx.keys, &q, 0, 10)
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        ctx.status(pending).await,
        Some(TaskStatus::Pending),
        "only dead tasks go"
    );
    assert_eq!(purge_all_dead(&ctx.conn, &ctx.keys, &q).await.unwrap(), 0);
}

#[tokio::test]
async fn purging_a_queue_deletes_waiting_and_delayed_tasks_but_never_one_in_flight() {
    let ctx = setup(|_| {}).await;
    let q = ctx.probe();
    let worker = ctx.spawn_worker(false);
    // Held by the worker (its one slot) while the purge runs.
    let running = ctx.hold_the_slot(1).await;
    let mut waiting = Vec::new();
    for seq in 2..=4 {
        waiting.push(ctx.enqueue(probe(seq)).await);
    }
    let keyed = ctx
        .producer
        .enqueue(
            &probe(5),
            EnqueueOptions {
                idempotency_key: Some("refresh-5".into()),
                ..EnqueueOptions::default()
            },
        )
        .await
        .unwrap();
    let delayed = ctx
        .producer
        .enqueue(
            &probe(6),
            EnqueueOptions {
                delay: Some(Duration::from_secs(3_600)),
                ..EnqueueOptions::default()
            },
        )
        .await
        .unwrap();

    let report = purge_waiting(&ctx.conn, &ctx.keys, &q).await.unwrap();
    assert_eq!((report.waiting, report.delayed), (4, 1));
    for id in waiting.iter().chain([&keyed, &delayed]) {
        assert_eq!(ctx.status(*id).await, None, "{id} purged");
        assert!(!ctx.has_payload(*id).await);
    }
    assert_eq!(ctx.status(running).await, Some(TaskStatus::Running));
    ctx.wait_for(running, TaskStatus::Done, Duration::from_secs(10))
        .await;
    // The purged task's idempotency key went with it: the same work can be asked for again.
    ctx.producer
        .enqueue(
            &probe(5),
            EnqueueOptions {
                idempotency_key: Some("refresh-5".into()),
                ..EnqueueOptions::default()
            },
        )
        .await
        .expect("the key is free again");
    worker.stop().await;
}

#[tokio::test]
async fn one_waiting_task_is_deleted_or_run_now_by_its_id_and_a_running_or_finished_one_is_refused()
{
    let ctx = setup(|_| {}).await;
    let q = ctx.probe();
    let worker = ctx.spawn_worker(false);
    // Held by the worker (its one slot), so the others stay where they wait.
    ctx.hold_the_slot(1).await;
    let keyed_job = |seq| {
        let opts = EnqueueOptions {
            idempotency_key: Some("refresh-2".into()),
            ..EnqueueOptions::default()
        };
        (probe(seq), opts)
    };
    let (job, opts) = keyed_job(2);
    let keyed = ctx.producer.enqueue(&job, opts).await.unwrap();
    let delayed = ctx
        .producer
        .enqueue(
            &probe(3),
            EnqueueOptions {
                delay: Some(Duration::from_secs(3_600)),
                ..EnqueueOptions::default()
            },
        )
        .await
        .unwrap();

    // Deleted from the active list, with its payload and its idempotency key.
    let place = delete_waiting(&ctx.conn, &ctx.keys, &q, keyed)
        .await
        .unwrap();
    assert_eq!(place, WaitingPlace::Active);
    assert_eq!(ctx.status(keyed).await, None);
    assert!(!ctx.has_payload(keyed).await);
    let (job, opts) = keyed_job(4);
    let again = ctx
        .producer
        .enqueue(&job, opts)
        .await
        .expect("the deleted task's key is free again");

    // Run now: a task ready to run stays in its place; the delayed one goes behind it.
    let place = run_waiting_now(&ctx.conn, &ctx.keys, &q, again)
        .await
        .unwrap();
    assert_eq!(place, WaitingPlace::Active);
    let place = run_waiting_now(&ctx.conn, &ctx.keys, &q, delayed)
        .await
        .unwrap();
    assert_eq!(place, WaitingPlace::Delayed);
    let active: Vec<String> = redis::cmd("LRANGE")
        .arg(ctx.keys.queue(&q).active())
        .arg(0)
        .arg(-1)
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert_eq!(active, [again.to_string(), delayed.to_string()]);
    // Due in an hour, it runs as soon as the slot is free.
    ctx.wait_for(delayed, TaskStatus::Done, Duration::from_secs(10))
        .await;

    // Refused: a task that runs, a finished one, one never enqueued.
    let held = ctx.hold_the_slot(5).await;
    for (id, want) in [(held, TaskStatus::Running), (delayed, TaskStatus::Done)] {
        let err = delete_waiting(&ctx.conn, &ctx.keys, &q, id)
            .await
            .unwrap_err();
        assert!(
            matches!(err, WaitingError::NotWaiting { status, .. } if status == want),
            "{err:?}"
        );
        let err = run_waiting_now(&ctx.conn, &ctx.keys, &q, id)
            .await
            .unwrap_err();
        assert!(
            matches!(err, WaitingError::NotWaiting { status, .. } if status == want),
            "{err:?}"
        );
    }
    assert!(
        ctx.has_payload(held).await,
        "a refused delete touches nothing"
    );
    let unknown = TaskId::generate();
    let err = delete_waiting(&ctx.conn, &ctx.keys, &q, unknown)
        .await
        .unwrap_err();
    assert!(matches!(err, WaitingError::NotFound { .. }), "{err:?}");
    ctx.wait_for(held, TaskStatus::Done, Duration::from_secs(10))
        .await;
    worker.stop().await;
}

#[tokio::test]
async fn a_running_worker_is_listed_with_host_pid_start_and_what_it_holds_and_gone_once_stopped() {
    let ctx = setup(|s| s.queues.defaults.heartbeat_secs = 1).await;
    let q = ctx.probe();
    let settings = ctx.settings.queues.for_queue(&q);
    let before_ms = chrono::Utc::now().timestamp_millis() as u64;
    let worker = ctx.spawn_worker(false);
    let held = ctx
        .enqueue(ProbeJob {
            seq: 1,
            sleep_ms: 1_500,
            ..ProbeJob::default()
        })
        .await;
    ctx.wait_for(held, TaskStatus::Running, Duration::from_secs(5))
        .await;

    let workers = list_workers(&ctx.conn, &ctx.keys, &q, &settings)
        .await
        .unwrap();
    assert_eq!(workers.len(), 1, "{workers:?}");
    let w = &workers[0];
    assert!(w.name.starts_with("probe-"), "{w:?}");
    assert_eq!(w.queue, q);
    assert_eq!(w.pid, Some(std::process::id()));
    assert!(w.host.as_deref().is_some_and(|h| !h.is_empty()), "{w:?}");
    assert!(w.name.contains(w.host.as_deref().unwrap()), "{w:?}");
    assert!(w.started_at.unwrap() >= before_ms, "{w:?}");
    assert!(w.last_heartbeat + 5_000 >= before_ms, "{w:?}");
    assert_eq!(w.in_flight, 1);
    assert!(w.live);
    let info_key = ctx.keys.queue(&q).worker_info(&w.name);
    let ttl: i64 = redis::cmd("TTL")
        .arg(&info_key)
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert!(ttl > 0, "the info record always expires: {ttl}");

    ctx.wait_for(held, TaskStatus::Done, Duration::from_secs(10))
        .await;
    worker.stop().await;
    assert!(
        list_workers(&ctx.conn, &ctx.keys, &q, &settings)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !ctx.exists(&info_key).await,
        "release deletes the info record"
    );
}

#[tokio::test]
async fn the_sweep_of_dead_workers_deletes_their_info_records() {
    let ctx = setup(|_| {}).await;
    let q = ctx.probe();
    let k = ctx.keys.queue(&q);
    let name = "probe-gone-host-1234-abcdef";
    let mut c = ctx.conn.clone();
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg(k.workers())
        .arg(1_000)
        .arg(name)
        .ignore()
        .cmd("HSET")
        .arg(k.worker_info(name))
        .arg("host")
        .arg("gone-host")
        .ignore()
        .query_async(&mut c)
        .await
        .unwrap();
    let listed = list_workers(&ctx.conn, &ctx.keys, &q, &ctx.settings.queues.for_queue(&q))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].live, "silent since 1970");
    assert_eq!(
        listed[0].pid,
        Some(1234),
        "no pid in the info record: read from the name"
    );
    assert_eq!(listed[0].host.as_deref(), Some("gone-host"));
    assert_eq!(listed[0].started_at, None);

    let swept = sweep_dead_workers(&ctx.conn, &ctx.keys, &q, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert!(!ctx.exists(&k.worker_info(name)).await);
}

#[tokio::test]
async fn pausing_and_resuming_an_entry_is_recorded_and_an_unknown_entry_is_refused() {
    let ctx = setup(|_| {}).await;
    let s = &ctx.settings;
    assert!(
        !read_pause(&ctx.conn, &ctx.keys, "prices")
            .await
            .unwrap()
            .is_paused()
    );

    let paused = pause(&ctx.conn, &ctx.keys, s, "prices").await.unwrap();
    assert!(paused.is_paused());
    let again = pause(&ctx.conn, &ctx.keys, s, "prices").await.unwrap();
    assert_eq!(
        again.paused_ms, paused.paused_ms,
        "the first pause time is kept"
    );
    assert!(
        !read_pause(&ctx.conn, &ctx.keys, "market")
            .await
            .unwrap()
            .is_paused()
    );

    let resumed = resume(&ctx.conn, &ctx.keys, s, "prices").await.unwrap();
    assert!(!resumed.is_paused());
    assert!(resumed.resumed_ms.unwrap() >= paused.paused_ms.unwrap());
    let not_paused = resume(&ctx.conn, &ctx.keys, s, "market").await.unwrap();
    assert_eq!(
        not_paused.resumed_ms, None,
        "resuming a running entry changes nothing"
    );

    let err = pause(&ctx.conn, &ctx.keys, s, "nope").await.unwrap_err();
    assert!(matches!(err, ControlError::UnknownEntry { .. }), "{err:?}");
    assert!(
        err.to_string().contains("prices"),
        "names the known entries: {err}"
    );
}

#[tokio::test]
async fn running_an_entry_now_enqueues_its_job_with_its_args_and_records_a_manual_run() {
    let ctx = setup(|_| {}).await;
    let run = run_now(&ctx.producer, &ctx.conn, &ctx.keys, &ctx.settings, "market")
        .await
        .unwrap();
    assert_eq!(run.trigger, RunTrigger::Manual);
    let task = lookup_task(&ctx.conn, &ctx.keys, &Queue::Market.name(), run.task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.status, TaskStatus::Pending);
    assert_eq!(
        task.payload,
        json!({ "limit": 100, "supply": false }),
        "the entry's args"
    );

    let history = read_history(
        &ctx.conn,
        &ctx.conn.clone().into(),
        &ctx.keys,
        "market",
        Queue::Market,
        10,
    )
    .await
    .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].run, run);
    assert_eq!(history[0].outcome(), "pending");
    assert!(matches!(
        run_now(&ctx.producer, &ctx.conn, &ctx.keys, &ctx.settings, "nope").await,
        Err(ControlError::UnknownEntry { .. })
    ));
}

#[tokio::test]
async fn the_history_keeps_the_newest_runs_up_to_its_bound_and_says_when_a_task_is_gone() {
    let ctx = setup(|_| {}).await;
    for i in 0..(HISTORY_LEN as i64 + 10) {
        let run = RunRecord {
            tick_ms: 1_000 * i,
            task_id: TaskId::generate(),
            trigger: RunTrigger::Tick,
            enqueued_ms: 1_000 * i + 3,
        };
        push_run(&ctx.conn, &ctx.keys, "prices", &run)
            .await
            .unwrap();
    }
    let len: usize = redis::cmd("LLEN")
        .arg(ctx.keys.schedule_history("prices"))
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert_eq!(len, HISTORY_LEN);
    let runs = read_runs(&ctx.conn, &ctx.keys, "prices", 3).await.unwrap();
    let ticks: Vec<i64> = runs.iter().map(|r| r.tick_ms).collect();
    let newest = 1_000 * (HISTORY_LEN as i64 + 9);
    assert_eq!(
        ticks,
        [newest, newest - 1_000, newest - 2_000],
        "newest first"
    );
    let history = read_history(
        &ctx.conn,
        &ctx.conn.clone().into(),
        &ctx.keys,
        "prices",
        Queue::Prices,
        1,
    )
    .await
    .unwrap();
    assert_eq!(history[0].outcome(), "expired", "no queue knows the task");
}
