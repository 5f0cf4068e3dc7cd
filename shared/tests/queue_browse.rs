//! What the dashboard reads and controls of a queue, against a real redis-server with
//! in-process workers: the pause flag every replica obeys, the per-minute and per-hour history
//! the acks keep, a queue's tasks listed by state, and searched.

mod common;

use std::{collections::BTreeSet, time::Duration};

use coinbeat_shared::{
    jobs::{Job, ProbeJob},
    queue::{
        EnqueueOptions, JobError, Resolution, SEARCH_STEP, TaskId, TaskSearch, TaskState,
        TaskStatus, list_tasks, pause_queue, queue_history, queue_stats, resume_queue,
        search_queue,
    },
    testing::{FinishedTask, write_finished},
};

use common::{Queues, probe};

impl Queues {
    async fn page(&self, state: TaskState, offset: u64, limit: u64) -> (u64, Vec<TaskId>) {
        let page = list_tasks(
            &self.conn,
            &self.keys,
            &ProbeJob::queue(),
            state,
            offset,
            limit,
        )
        .await
        .unwrap();
        (page.total, page.tasks.iter().map(|t| t.id).collect())
    }

    async fn wait_until(&self, what: &str, mut done: impl AsyncFnMut(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done(self).await {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_paused_queue_gives_nothing_to_any_replica_until_resumed_which_wakes_them() {
    // Polls far apart: only the resume's wake-up can start the tasks in time.
    let ctx = Queues::start(|s| {
        s.queues.defaults.poll_interval_ms = 60_000;
        s.queues.defaults.heartbeat_secs = 60;
        s.queues.defaults.orphan_after_secs = 180;
    })
    .await;
    let queue = ProbeJob::queue();
    let settings = ctx.settings.queues.for_queue(&queue);
    let first = pause_queue(&ctx.conn, &ctx.keys, &queue).await.unwrap();
    assert!(!first.was_paused);
    let again = pause_queue(&ctx.conn, &ctx.keys, &queue).await.unwrap();
    assert!(again.was_paused);
    assert_eq!(
        again.paused_since, first.paused_since,
        "a second pause keeps the first time"
    );

    let workers = [
        ctx.run_worker(|_job: ProbeJob, _| async move { Ok(None) }),
        ctx.run_worker(|_job: ProbeJob, _| async move { Ok(None) }),
    ];
    let mut ids = Vec::new();
    for seq in 0..3 {
        ids.push(ctx.enqueue(probe(seq)).await);
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let stats = queue_stats(&ctx.conn, &ctx.keys, &queue, &settings)
        .await
        .unwrap();
    assert!(stats.paused);
    assert_eq!((stats.waiting, stats.in_flight, stats.done), (3, 0, 0));
    assert_eq!(stats.live_workers, 2, "both replicas are up, and idle");

    let resumed = resume_queue(&ctx.conn, &ctx.keys, &queue).await.unwrap();
    assert!(resumed.was_paused && resumed.paused_since.is_none());
    ctx.wait_until("every task done after the resume", async |ctx| {
        let stats = queue_stats(&ctx.conn, &ctx.keys, &queue, &settings)
            .await
            .unwrap();
        !stats.paused && stats.done == 3
    })
    .await;
    for (stop, handle) in workers {
        stop.cancel();
        handle.await.unwrap();
    }
}

#[tokio::test]
async fn the_history_counts_each_outcome_in_its_minute_and_its_hour_in_bounded_keys() {
    let ctx = Queues::start(|s| {
        s.queues.defaults.max_retries = 1;
        s.queues.defaults.retry_base_delay_ms = 10;
        s.queues.defaults.retry_max_delay_ms = 20;
    })
    .await;
    let queue = ProbeJob::queue();
    // 0, 1, 2 succeed; 3 fails for good; 4 fails twice (retried once, then dead).
    let (stop, handle) = ctx.run_worker(|job: ProbeJob, _| async move {
        match job.seq {
            3 => Err(JobError::permanent("no")),
            4 => Err(JobError::transient("not now")),
            _ => Ok(None),
        }
    });
    for seq in 0..5 {
        ctx.enqueue(probe(seq)).await;
    }
    let settings = ctx.settings.queues.for_queue(&queue);
    ctx.wait_until("every task finished", async |ctx| {
        let stats = queue_stats(&ctx.conn, &ctx.keys, &queue, &settings)
            .await
            .unwrap();
        stats.done == 3 && stats.dead == 2
    })
    .await;
    stop.cancel();
    handle.await.unwrap();

    for (resolution, points) in [(Resolution::Minute, 5), (Resolution::Hour, 3)] {
        let buckets = queue_history(&ctx.conn, &ctx.keys, &queue, resolution, points)
            .await
            .unwrap();
        assert_eq!(buckets.len(), points as usize);
        assert!(buckets.windows(2).all(|w| w[0].start < w[1].start));
        let sum =
            |f: fn(&coinbeat_shared::queue::Bucket) -> u64| buckets.iter().map(f).sum::<u64>();
        assert_eq!(
            (
                sum(|b| b.done),
                sum(|b| b.retried),
                sum(|b| b.dead),
                sum(|b| b.throttled)
            ),
            (3, 1, 2, 0),
            "{resolution:?}: {buckets:?}"
        );
    }
    // Asking for more than is kept is clamped to what is kept.
    let all = queue_history(&ctx.conn, &ctx.keys, &queue, Resolution::Minute, 100_000)
        .await
        .unwrap();
    assert_eq!(all.len(), 1440);

    // One hash for this hour's minutes and one for today's hours, each expiring.
    let pattern = format!(
        "{}:*",
        ctx.keys
            .queue(&queue)
            .history_prefix()
            .replace('{', "\\{")
            .replace('}', "\\}")
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert!((2..=4).contains(&keys.len()), "{keys:?}");
    for key in keys {
        let ttl: i64 = redis::cmd("TTL")
            .arg(&key)
            .query_async(&mut ctx.conn.clone())
            .await
            .unwrap();
        let day = 86_400;
        let bound = if key.contains(":m:") {
            2 * day
        } else {
            32 * day
        };
        assert!(ttl > day - 3_600 && ttl <= bound, "{key}: ttl {ttl}");
    }
}

#[tokio::test]
async fn a_queues_tasks_are_listed_by_state_in_that_states_order_a_page_at_a_time() {
    let ctx = Queues::start(|s| s.queues.defaults.max_retries = 0).await;
    let queue = ProbeJob::queue();

    // Waiting, in the order they will run.
    let mut waiting = Vec::new();
    for seq in 0..5 {
        waiting.push(ctx.enqueue(probe(seq)).await);
    }
    assert_eq!(
        ctx.page(TaskState::Waiting, 0, 50).await,
        (5, waiting.clone())
    );
    assert_eq!(
        ctx.page(TaskState::Waiting, 1, 2).await,
        (5, waiting[1..3].to_vec())
    );

    // Delayed, soonest first.
    let mut delayed = Vec::new();
    for secs in [300, 100, 200] {
        let options = EnqueueOptions {
            delay: Some(Duration::from_secs(secs)),
            ..EnqueueOptions::default()
        };
        delayed.push((
            secs,
            ctx.producer
                .enqueue(&probe(100 + secs), options)
                .await
                .unwrap(),
        ));
    }
    delayed.sort();
    let soonest_first: Vec<TaskId> = delayed.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        ctx.page(TaskState::Delayed, 0, 50).await,
        (3, soonest_first)
    );

    // In flight: held by a worker, shown running; then done and dead, newest first.
    let (release, released) = tokio::sync::watch::channel(false);
    let (stop, handle) = ctx.run_worker(move |job: ProbeJob, _| {
        let mut released = released.clone();
        async move {
            if job.seq == 4 {
                let _ = released.wait_for(|go| *go).await;
            }
            if job.seq % 2 == 1 {
                Err(JobError::permanent("odd"))
            } else {
                Ok(None)
            }
        }
    });
    ctx.wait_until("task 4 held", async |ctx| {
        ctx.page(TaskState::InFlight, 0, 50).await == (1, vec![waiting[4]])
    })
    .await;
    let held = list_tasks(&ctx.conn, &ctx.keys, &queue, TaskState::InFlight, 0, 50)
        .await
        .unwrap();
    assert_eq!(held.tasks[0].status, TaskStatus::Running);
    release.send(true).unwrap();
    ctx.wait_until("all five finished", async |ctx| {
        ctx.page(TaskState::Done, 0, 50).await.0 == 3
            && ctx.page(TaskState::Dead, 0, 50).await.0 == 2
    })
    .await;
    stop.cancel();
    handle.await.unwrap();

    let set = |ids: &[TaskId]| ids.iter().copied().collect::<BTreeSet<_>>();
    let (_, done) = ctx.page(TaskState::Done, 0, 50).await;
    assert_eq!(done.len(), 3);
    assert_eq!(done[0], waiting[4], "the last to finish comes first");
    assert_eq!(set(&done), set(&[waiting[0], waiting[2], waiting[4]]));
    let (_, dead) = ctx.page(TaskState::Dead, 0, 50).await;
    assert_eq!(set(&dead), set(&[waiting[1], waiting[3]]));
    assert_eq!(ctx.page(TaskState::Done, 1, 1).await, (3, vec![done[1]]));
    let dead_page = list_tasks(&ctx.conn, &ctx.keys, &queue, TaskState::Dead, 0, 1)
        .await
        .unwrap();
    assert_eq!(dead_page.tasks[0].status, TaskStatus::Dead);
    assert_eq!(dead_page.tasks[0].last_error.as_deref(), Some("odd"));
    assert!(
        dead_page.tasks[0].payload.is_object(),
        "{:?}",
        dead_page.tasks[0].payload
    );
    assert_eq!(ctx.page(TaskState::Waiting, 0, 50).await.0, 0);
    // An offset past anything a queue holds is an empty page, whatever its size.
    for state in TaskState::ALL {
        let (total, ids) = ctx.page(state, i64::MAX as u64 - 1, 1).await;
        assert!(ids.is_empty(), "{state}: {total}");
    }
    assert_eq!(ctx.page(TaskState::Done, i64::MAX as u64 - 1, 1).await.0, 3);
}

#[tokio::test]
async fn a_search_finds_by_arguments_error_state_and_time_across_steps_and_says_when_time_ran_out()
{
    let ctx = Queues::start(|_| {}).await;
    let queue = ProbeJob::queue();
    // More finished tasks than two steps examine, one minute apart, oldest first: every 997th
    // is dead with an error naming it, the rest done; one payload carries a rare word.
    let n = 2 * SEARCH_STEP + 500;
    let base: u64 = 1_700_000_000_000;
    let tasks = (0..n).map(|i| FinishedTask {
        payload: if i == 1_234 {
            r#"{"seq":1234,"note":"Needle-In-The-Haystack"}"#.to_owned()
        } else {
            format!(r#"{{"seq":{i}}}"#)
        },
        error: (i % 997 == 0).then(|| format!("upstream said BOOM at {i}")),
        finished_ms: base + i * 60_000,
    });
    let ids = write_finished(&mut ctx.conn.clone(), &ctx.keys, &queue, tasks)
        .await
        .unwrap();
    let waiting = ctx.enqueue(probe(99)).await;
    let far = std::time::Instant::now() + Duration::from_secs(60);
    let search = async |search: TaskSearch| {
        search_queue(&ctx.conn, &ctx.keys, &queue, &search, far)
            .await
            .unwrap()
    };
    let any = TaskSearch {
        states: Vec::new(),
        args: None,
        error: None,
        since_ms: None,
        until_ms: None,
        limit: 1_000,
    };

    // A rare word in the arguments, any case, found past the first step.
    let found = search(TaskSearch {
        args: Some("needle-in-THE".into()),
        ..any.clone()
    })
    .await;
    assert!(found.complete);
    let hits: Vec<_> = found
        .tasks
        .iter()
        .map(|(state, t)| (*state, t.id))
        .collect();
    assert_eq!(hits, vec![(TaskState::Done, ids[1_234])]);
    assert_eq!(found.examined, n, "it read every finished task's line once");

    // Error text: every dead task, newest first, each with its error.
    let found = search(TaskSearch {
        error: Some("boom".into()),
        ..any.clone()
    })
    .await;
    let dead: Vec<TaskId> = (0..n)
        .rev()
        .filter(|i| i % 997 == 0)
        .map(|i| ids[i as usize])
        .collect();
    assert_eq!(
        found.tasks.iter().map(|(_, t)| t.id).collect::<Vec<_>>(),
        dead
    );
    assert!(
        found
            .tasks
            .iter()
            .all(|(state, t)| *state == TaskState::Dead
                && t.status == TaskStatus::Dead
                && t.last_error.as_deref().unwrap().contains("BOOM"))
    );

    // Both at once must both hold; arguments of a dead one.
    let found = search(TaskSearch {
        args: Some(r#""seq":997}"#.into()),
        error: Some("boom at 997".into()),
        ..any.clone()
    })
    .await;
    assert_eq!(found.tasks.len(), 1);
    assert_eq!(found.tasks[0].1.id, ids[997]);

    // States: the waiting task, and nothing finished, when only waiting is asked for.
    let found = search(TaskSearch {
        states: vec![TaskState::Waiting],
        ..any.clone()
    })
    .await;
    assert_eq!(found.tasks.len(), 1);
    assert_eq!(
        found.tasks[0],
        (TaskState::Waiting, found.tasks[0].1.clone())
    );
    assert_eq!(found.tasks[0].1.id, waiting);
    assert_eq!(found.examined, 0);

    // A time range of finish times: tasks 100 to 109 (both ends included), newest first.
    let found = search(TaskSearch {
        states: vec![TaskState::Done, TaskState::Dead],
        since_ms: Some(base + 100 * 60_000),
        until_ms: Some(base + 109 * 60_000),
        ..any.clone()
    })
    .await;
    let want: Vec<TaskId> = (100..110).rev().map(|i| ids[i]).collect();
    assert_eq!(
        found.tasks.iter().map(|(_, t)| t.id).collect::<Vec<_>>(),
        want
    );
    assert_eq!(found.examined, 10);

    // Arguments within a time range: of the tasks whose seq starts with 1, those finished
    // between tasks 100 and 199.
    let found = search(TaskSearch {
        args: Some(r#""seq":1"#.into()),
        since_ms: Some(base + 100 * 60_000),
        until_ms: Some(base + 199 * 60_000),
        ..any.clone()
    })
    .await;
    let want: Vec<TaskId> = (100..200).rev().map(|i| ids[i]).collect();
    assert_eq!(
        found.tasks.iter().map(|(_, t)| t.id).collect::<Vec<_>>(),
        want
    );

    // A limit stops it early, newest first: the first matches, and no more was examined
    // than needed.
    let found = search(TaskSearch {
        states: vec![TaskState::Done],
        limit: 3,
        ..any.clone()
    })
    .await;
    let newest: Vec<TaskId> = (0..n)
        .rev()
        .filter(|i| i % 997 != 0)
        .take(3)
        .map(|i| ids[i as usize])
        .collect();
    assert_eq!(
        found.tasks.iter().map(|(_, t)| t.id).collect::<Vec<_>>(),
        newest
    );
    assert!(found.examined <= SEARCH_STEP);

    // A deadline already past: one step, then it stops and says it is not complete.
    let found = search_queue(
        &ctx.conn,
        &ctx.keys,
        &queue,
        &TaskSearch {
            args: Some("nothing has this".into()),
            ..any.clone()
        },
        std::time::Instant::now(),
    )
    .await
    .unwrap();
    assert!(!found.complete);
    assert!(found.examined < n, "{}", found.examined);
}

/// The errors hash a search by error reads: exactly `id → last_error` of every task whose meta
/// has one (and nothing else), across every move a task makes.
async fn assert_errors_match_the_metas(ctx: &Queues, when: &str) {
    let k = ctx.keys.queue(&ProbeJob::queue());
    let mut c = ctx.conn.clone();
    let pattern = format!(
        "{}:*",
        k.meta_prefix().replace('{', "\\{").replace('}', "\\}")
    );
    let metas: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut c)
        .await
        .unwrap();
    let mut want = std::collections::BTreeMap::new();
    for meta in metas {
        let error: Option<String> = redis::cmd("HGET")
            .arg(&meta)
            .arg("last_error")
            .query_async(&mut c)
            .await
            .unwrap();
        if let Some(error) = error {
            want.insert(meta.rsplit(':').next().unwrap().to_owned(), error);
        }
    }
    let have: std::collections::BTreeMap<String, String> = redis::cmd("HGETALL")
        .arg(k.errors())
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(have, want, "{when}");
}

#[tokio::test]
async fn the_errors_index_and_the_search_logs_follow_every_move_of_a_task() {
    use std::sync::{Arc, Mutex};
    let ctx = Queues::start(|s| {
        s.queues.defaults.max_retries = 1;
        s.queues.defaults.retry_base_delay_ms = 10;
        s.queues.defaults.retry_max_delay_ms = 20;
    })
    .await;
    let queue = ProbeJob::queue();
    let failed_once = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let (stop, handle) = ctx.run_worker(move |job: ProbeJob, _| {
        let failed_once = failed_once.clone();
        async move {
            match job.seq {
                // Fails once, then succeeds: done, with the first error kept.
                1 if failed_once.lock().unwrap().insert(1) => Err(JobError::transient("flaky 1")),
                2 => Err(JobError::permanent("bad input 2")),
                3 => Err(JobError::transient("down 3")),
                4 if failed_once.lock().unwrap().insert(4) => Err(JobError::throttled(
                    "slow down 4",
                    Duration::from_millis(10),
                )),
                _ => Ok(None),
            }
        }
    });
    let mut ids = Vec::new();
    for seq in 0..5 {
        ids.push(ctx.enqueue(probe(seq)).await);
    }
    let settings = ctx.settings.queues.for_queue(&queue);
    ctx.wait_until("all five finished", async |ctx| {
        let stats = queue_stats(&ctx.conn, &ctx.keys, &queue, &settings)
            .await
            .unwrap();
        stats.done == 3 && stats.dead == 2
    })
    .await;
    stop.cancel();
    handle.await.unwrap();
    assert_errors_match_the_metas(&ctx, "after the runs").await;
    let indexed: u64 = redis::cmd("HLEN")
        .arg(ctx.keys.queue(&queue).errors())
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert_eq!(indexed, 4, "the flaky, bad, down and throttled tasks");
    // The acks wrote this hour's search log: a search by arguments finds a finished task in it.
    let found = search_queue(
        &ctx.conn,
        &ctx.keys,
        &queue,
        &TaskSearch {
            states: Vec::new(),
            args: Some(r#""SEQ":2,"#.into()),
            error: None,
            since_ms: None,
            until_ms: None,
            limit: 10,
        },
        std::time::Instant::now() + Duration::from_secs(10),
    )
    .await
    .unwrap();
    let found: Vec<_> = found
        .tasks
        .iter()
        .map(|(state, t)| (*state, t.id))
        .collect();
    assert_eq!(found, vec![(TaskState::Dead, ids[2])]);

    // A dead task retried loses its error; another purged loses its record.
    coinbeat_shared::queue::retry_dead(&ctx.conn, &ctx.keys, &ctx.settings.queues, &queue, ids[2])
        .await
        .unwrap();
    assert_errors_match_the_metas(&ctx, "after a retry").await;
    coinbeat_shared::queue::purge_dead(&ctx.conn, &ctx.keys, &queue, ids[3])
        .await
        .unwrap();
    assert_errors_match_the_metas(&ctx, "after a purge").await;
    coinbeat_shared::queue::purge_waiting(&ctx.conn, &ctx.keys, &queue)
        .await
        .unwrap();
    assert_errors_match_the_metas(&ctx, "after purging the waiting").await;
    coinbeat_shared::queue::prune_finished(&ctx.conn, &ctx.keys, &queue, Duration::ZERO)
        .await
        .unwrap();
    assert_errors_match_the_metas(&ctx, "after pruning").await;
    let left: u64 = redis::cmd("HLEN")
        .arg(ctx.keys.queue(&queue).errors())
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert_eq!(left, 0);
    // The search logs went with the records they covered.
    let k = ctx.keys.queue(&queue);
    let hours: u64 = redis::cmd("ZCARD")
        .arg(k.search_hours())
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    let pattern = format!(
        "{}:*",
        k.search_log_prefix()
            .replace('{', "\\{")
            .replace('}', "\\}")
    );
    let logs: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert_eq!((hours, logs), (0, Vec::<String>::new()));
}
