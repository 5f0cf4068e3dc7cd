//! `coinbeat-lab bench queue` as the README documents it, at a small size: it starts its own Redis
//! and workers, prints its table, appends it to the benchmark file, and leaves no process
//! behind. (It asserts what was printed, never how fast: speed is the bench's output, not a
//! test's condition.)

mod common;

use common::{lab, processes_using};

#[test]
fn bench_queue_prints_its_table_appends_it_and_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BENCHMARKS.md");
    let out_arg = out.to_str().unwrap();
    let stdout = lab(
        dir.path(),
        [
            "bench",
            "queue",
            "--tasks",
            "2000",
            "--runs",
            "1",
            "--latency-tasks",
            "50",
            "--out",
            out_arg,
        ],
    );
    for figure in [
        "| enqueue rate (bulk, tasks/s) |",
        "| drain rate (tasks/s, 1 worker(s)) |",
        "| Redis commands per task",
        "| enqueue→start p99 at idle (ms) |",
    ] {
        assert!(stdout.contains(figure), "missing {figure:?} in:\n{stdout}");
    }
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with("# Benchmarks"), "{written}");
    assert!(written.contains("### queue"), "{written}");
    assert!(
        written.contains("bench queue --tasks 2000"),
        "the command is recorded: {written}"
    );
    assert_eq!(
        processes_using(dir.path()),
        Vec::<String>::new(),
        "processes left behind"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("coinbeat-bench-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary folders left: {leftovers:?}"
    );
}

#[test]
fn bench_ratelimit_reports_rejections_and_the_share_of_the_limit_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = lab(
        dir.path(),
        [
            "bench",
            "ratelimit",
            "--replicas",
            "2",
            "--limit-per-sec",
            "20",
            "--jobs",
            "60",
            "--runs",
            "1",
            "--no-append",
        ],
    );
    for figure in [
        "| requests the upstream rejected (worst run) |",
        "| achieved rate while queued (% of the limit) |",
        "| most requests in any 1 s at the upstream (worst run) |",
    ] {
        assert!(stdout.contains(figure), "missing {figure:?} in:\n{stdout}");
    }
    assert!(!dir.path().join("BENCHMARKS.md").exists(), "--no-append");
    assert_eq!(
        processes_using(dir.path()),
        Vec::<String>::new(),
        "processes left behind"
    );
}
