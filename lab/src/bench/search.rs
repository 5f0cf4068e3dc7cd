//! `bench search`: `--tasks` finished tasks (a million by default) in one queue, written
//! straight into its layout as wallet analyses (each task's arguments an address and a chain;
//! one in 10,000 dead with an error), then searched through the API (`GET /v1/tasks`, an admin
//! key): by a piece of an address a dozen tasks share, by error text, by a piece of an address
//! within the last hour, and by id. Reports each search's latency as the client saw it, what
//! the search examined, and Redis's memory per finished task: all of it, and the part that is
//! the search's own (the hourly search logs and the errors index).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use coinbeat_shared::{
    api_keys::{ApiKey, env_value},
    jobs::Queue,
    settings::Role,
    testing::{FinishedTask, write_finished},
};
use serde_json::Value;

use super::{
    lab::{Lab, api_env, free_addr, wait_listening},
    report::{Report, Row},
    stats::median,
};
use crate::args::BenchArgs;
use coinbeat::component::Component;

/// The acceptance's bound on one search (issue 22).
const TARGET: Duration = Duration::from_secs(1);
/// Tasks sharing the rare address piece searched for.
const RARE: u64 = 12;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    Lab::start()
        .await?
        .run(async |lab| measure(args, lab).await)
        .await
}

/// The address of task `i`: 40 hex digits from `i`; the [`RARE`] tasks spread through the
/// queue carry `c0ffee` inside theirs, and no other does.
fn address(i: u64, n: u64) -> String {
    let mixed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let hex = format!("{mixed:016x}{:016x}{:08x}", mixed.rotate_left(17), i as u32);
    if i % (n / RARE) == 7 {
        format!("0x{}c0ffee{}", &hex[..10], &hex[16..40])
    } else {
        // No other address holds the piece by chance.
        format!("0x{}", hex.replace("c0ffee", "c0ffef"))
    }
}

async fn used_memory(lab: &Lab) -> anyhow::Result<u64> {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut lab.conn.clone())
        .await?;
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .context("INFO memory has no used_memory")
}

async fn measure(args: &BenchArgs, lab: &mut Lab) -> anyhow::Result<Report> {
    let n = args.tasks as u64;
    if n < RARE * 10 {
        bail!("--tasks must be at least {}", RARE * 10);
    }
    let mut report = Report::new(
        "search",
        format!(
            "{n} finished wallet tasks in one queue (1 in 10,000 dead), written into its layout; \
             `coinbeat run api` (one process) searching them through `GET /v1/tasks` with an \
             admin key, one request at a time; median and slowest of {} runs per search",
            args.runs
        ),
    );
    let queue = Queue::Wallet.name();
    let now_ms = chrono::Utc::now().timestamp_millis() as u64;
    let before = used_memory(lab).await?;
    let started = Instant::now();
    // Oldest first, one every 50 ms, the newest finishing now.
    let tasks = (0..n).map(|i| FinishedTask {
        payload: format!(r#"{{"address":"{}","chain":"ethereum"}}"#, address(i, n)),
        error: (i % 10_000 == 4_321).then(|| {
            format!(
                "etherscan timed out after 30 s (attempt 3 of 3) on page {}",
                i % 97
            )
        }),
        finished_ms: now_ms - (n - 1 - i) * 50,
    });
    let ids = write_finished(&mut lab.conn.clone(), &lab.keys, &queue, tasks).await?;
    let written = started.elapsed();
    let after = used_memory(lab).await?;
    println!(
        "search: wrote {n} finished tasks in {:.1} s",
        written.as_secs_f64()
    );

    let key = ApiKey::generate();
    let addr = free_addr()?;
    let mut env = api_env(addr, 1, 0);
    env.push(("COINBEAT_API__KEYS", env_value(&[key.entry(Role::Admin)])));
    env.push(("RUST_LOG", "warn".into()));
    lab.spawn(Component::Api, &env)?;
    wait_listening(addr).await?;
    let http = reqwest::Client::new();
    let hour_ago = chrono::DateTime::from_timestamp_millis((now_ms - 3_600_000) as i64)
        .context("a time")?
        .to_rfc3339();
    let searches = [
        (
            "args: a piece of an address 12 tasks share, every finished task",
            "args=C0FFEE&queue=wallet&limit=100".to_owned(),
            Some(RARE),
        ),
        (
            "error: text of the dead tasks' errors, every finished task",
            "error=timed%20out&limit=1000".to_owned(),
            Some(n.div_ceil(10_000)),
        ),
        (
            "args within the last hour, the 1,000 newest",
            format!("args=ethereum&since={}&limit=1000", urlencode(&hour_ago)),
            Some(1_000),
        ),
        (
            "dead tasks whose error names page 42",
            "state=dead&error=page%2042".to_owned(),
            None,
        ),
        ("by id", format!("id={}", ids[ids.len() / 2]), Some(1)),
    ];
    for (label, query, expect) in searches {
        let mut took = Vec::new();
        let mut last = Value::Null;
        for run in 0..=args.runs {
            let t = Instant::now();
            let body: Value = http
                .get(format!("http://{addr}/v1/tasks?{query}"))
                .bearer_auth(key.expose())
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let ms = t.elapsed().as_secs_f64() * 1_000.0;
            if run > 0 {
                took.push(ms);
            }
            last = body;
        }
        let found = last["tasks"].as_array().map_or(0, Vec::len) as u64;
        if let Some(want) = expect
            && found != want
        {
            bail!("{label}: found {found}, expected {want}: {last}");
        }
        if last["complete"] != true {
            report.notes.push(format!(
                "{label}: the search ran out of time (complete: false)"
            ));
        }
        let slowest = took.iter().cloned().fold(0.0, f64::max);
        let med = median(&took);
        println!(
            "search {label}: median {med:.0} ms, slowest {slowest:.0} ms, {found} found, {} examined",
            last["examined"]
        );
        report.rows.push(Row::target(
            format!("{label}: ms (median / slowest)"),
            format!("{med:.0} / {slowest:.0}"),
            "≤ 1,000 ms",
            slowest <= TARGET.as_secs_f64() * 1_000.0 && last["complete"] == true,
        ));
        report.rows.push(Row::info(
            format!("{label}: found / finished tasks examined"),
            format!("{found} / {}", last["examined"]),
        ));
    }
    let indexes = search_memory(lab, &queue).await?;
    report.rows.push(Row::info(
        "Redis memory per finished task, bytes (payload, meta, finished index, done/dead set, and the search's own below)",
        format!("{:.0}", after.saturating_sub(before) as f64 / n as f64),
    ));
    report.rows.push(Row::info(
        "of which the search's own, bytes per finished task (hourly search logs: id and payload again; the errors index)",
        format!("{:.0}", indexes as f64 / n as f64),
    ));
    report.rows.push(Row::info(
        "writing them (pipelined, 1,000 tasks per round trip), s",
        format!("{:.1}", written.as_secs_f64()),
    ));
    Ok(report)
}

/// Bytes Redis holds for the search's own structures of `queue`: its hourly logs, their
/// hours, and the errors index (`MEMORY USAGE`, every sample).
async fn search_memory(lab: &Lab, queue: &coinbeat_shared::jobs::QueueName) -> anyhow::Result<u64> {
    let k = lab.keys.queue(queue);
    let mut conn = lab.conn.clone();
    let hours: Vec<u64> = redis::cmd("ZRANGE")
        .arg(k.search_hours())
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await?;
    let mut keys: Vec<String> = hours.iter().map(|&h| k.search_log(h)).collect();
    keys.push(k.search_hours());
    keys.push(k.errors());
    let mut total = 0;
    for key in keys {
        let bytes: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await?;
        total += bytes.unwrap_or(0);
    }
    Ok(total)
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}
