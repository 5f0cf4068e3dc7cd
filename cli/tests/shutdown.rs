//! Every component stops cleanly on SIGTERM within its shutdown timeout: the scheduler, the API
//! and each worker, started as `coinbeat up` starts them (`coinbeat run <component>
//! --stop-on-stdin-eof`, standard input held open by the parent), against a real Redis. Each one
//! is first seen working (a worker registered, the API listening, the scheduler's first run
//! recorded), then gets SIGTERM and must exit with success.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use coinbeat::component::Component;
use coinbeat_shared::testing::free_port;
use coinbeat_shared::{
    jobs::{Job, PricesJob},
    keys::Keys,
    queue::queue_stats,
    redis_conn,
    testing::TestRedis,
};

/// The components' `shutdown_timeout_secs` here.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread")]
async fn every_component_exits_cleanly_on_sigterm_within_its_shutdown_timeout() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());

    // The stream-worker's own tests stop it (workers/tests/stream_processes.rs). The scheduler
    // goes after the workers, so no worker runs the jobs it enqueues (counted at the end).
    let mut components: Vec<_> = Component::product()
        .filter(|c| *c != Component::StreamWorker)
        .collect();
    components.sort_by_key(|c| c.queue().is_none());
    for component in components {
        let api_port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_coinbeat"))
            .args(["run", component.name(), "--stop-on-stdin-eof"])
            .env("REDIS_URL", redis.url())
            .env("COINBEAT_REDIS__KEY_PREFIX", &settings.redis.key_prefix)
            .env(
                "COINBEAT_QUEUES__DEFAULTS__SHUTDOWN_TIMEOUT_SECS",
                SHUTDOWN_TIMEOUT.as_secs().to_string(),
            )
            .env("COINBEAT_API__ADDR", format!("127.0.0.1:{api_port}"))
            .env("RUST_LOG", "warn")
            .env_remove("COINBEAT_CONFIG")
            // Held open by us, as `coinbeat up` holds it: the component must not wait for it.
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();

        // Seen working first.
        let started = Instant::now();
        loop {
            let working = match component {
                Component::Api => std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok(),
                Component::Scheduler => {
                    let exists: bool = redis::cmd("EXISTS")
                        .arg(keys.schedule_entry("prices"))
                        .query_async(&mut conn.clone())
                        .await
                        .unwrap();
                    exists
                }
                worker => {
                    let queue = worker.queue().expect("a queue worker");
                    let stats =
                        queue_stats(&conn, &keys, &queue, &settings.queues.for_queue(&queue))
                            .await
                            .unwrap();
                    stats.live_workers == 1
                }
            };
            if working {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{component} did not start working within 30 s"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "{component} exited at start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let sent = Command::new("kill")
            .args(["-s", "TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let signalled = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if signalled.elapsed() > SHUTDOWN_TIMEOUT + Duration::from_secs(2) {
                child.kill().unwrap();
                panic!(
                    "{component} still running {:?} after SIGTERM",
                    signalled.elapsed()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(status.success(), "{component} exited with {status}");
        if let Some(queue) = component.queue() {
            let stats = queue_stats(&conn, &keys, &queue, &settings.queues.for_queue(&queue))
                .await
                .unwrap();
            assert_eq!(
                (stats.live_workers, stats.in_flight),
                (0, 0),
                "{component} deregistered and released what it held"
            );
        }
    }
    // The prices queue is one the scheduler enqueued to: its catch-up jobs (the tracked set's
    // and each price tier's) are still there, waiting (the scheduler only enqueues).
    let prices = queue_stats(&conn, &keys, &PricesJob::queue(), &settings.queues.defaults)
        .await
        .unwrap();
    let tiers = coinbeat_shared::settings::tiers::default_tiers().len() as u64;
    assert_eq!(prices.waiting, 1 + tiers, "{prices:?}");
}
