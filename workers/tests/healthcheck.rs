//! `<worker> healthcheck`, what a container runs to learn whether its worker is alive, against a
//! real worker process: 0 while it serves, `--ready` 1 while its Redis is gone and 0 again once
//! Redis is back, 1 once the process has stopped; a port-0 ops address is refused up front.

use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

use coinbeat_shared::{Settings, testing::TestRedis};

#[path = "common/worker_process.rs"]
mod worker_process;

use coinbeat_shared::testing::free_port;
use worker_process::WorkerProcess;

const BINARY: &str = env!("CARGO_BIN_EXE_health-worker");

/// Runs `health-worker healthcheck <args>` as a container would: same settings, nothing else.
fn healthcheck(settings: &Settings, ops_addr: &str, args: &[&str]) -> Output {
    Command::new(BINARY)
        .arg("healthcheck")
        .args(args)
        .env_clear()
        .env("REDIS_URL", settings.redis.url.expose())
        .env("COINBEAT_OPS__ADDR", ops_addr)
        .output()
        .expect("the healthcheck runs")
}

/// Polls until `healthcheck <args>` exits with `code`, or panics after `within`.
fn wait_for(
    settings: &Settings,
    ops_addr: &str,
    args: &[&str],
    code: i32,
    within: Duration,
) -> Output {
    let deadline = Instant::now() + within;
    loop {
        let out = healthcheck(settings, ops_addr, args);
        if out.status.code() == Some(code) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "healthcheck {args:?} still exits {:?} (wanted {code}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_healthcheck_follows_the_worker_and_its_redis() {
    let mut redis = TestRedis::start();
    let settings = redis.settings();
    // A wildcard bind, as in a container; the check reaches it on loopback.
    let ops_addr = format!("0.0.0.0:{}", free_port());

    let before = healthcheck(&settings, &ops_addr, &[]);
    assert_eq!(before.status.code(), Some(1), "nothing runs yet");
    assert!(
        String::from_utf8_lossy(&before.stderr).contains("nothing answered"),
        "{}",
        String::from_utf8_lossy(&before.stderr)
    );

    let mut worker = WorkerProcess::spawn(
        BINARY,
        &settings,
        &[("COINBEAT_OPS__ADDR", ops_addr.clone())],
    );
    wait_for(&settings, &ops_addr, &[], 0, Duration::from_secs(15));
    wait_for(
        &settings,
        &ops_addr,
        &["--ready"],
        0,
        Duration::from_secs(15),
    );

    redis.kill();
    let not_ready = wait_for(
        &settings,
        &ops_addr,
        &["--ready"],
        1,
        Duration::from_secs(15),
    );
    assert!(
        String::from_utf8_lossy(&not_ready.stderr).contains("/readyz answered \"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&not_ready.stderr)
    );
    assert_eq!(
        healthcheck(&settings, &ops_addr, &[]).status.code(),
        Some(0),
        "alive while Redis is away: liveness must not restart a worker for Redis's outage"
    );

    redis.restart();
    wait_for(
        &settings,
        &ops_addr,
        &["--ready"],
        0,
        Duration::from_secs(20),
    );

    worker.kill9();
    wait_for(&settings, &ops_addr, &[], 1, Duration::from_secs(5));
}

#[test]
fn a_port_zero_ops_address_cannot_be_checked_and_says_why() {
    let redis = TestRedis::start();
    let out = healthcheck(&redis.settings(), "127.0.0.1:0", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ops.addr") && stderr.contains("fixed port"),
        "{stderr}"
    );
}
