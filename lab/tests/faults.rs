//! `coinbeat-lab faults` as RELIABILITY.md documents it, on small sizes: the scenarios that kill,
//! stop and freeze real worker processes pass, the table lands in the reliability file with the
//! command, and nothing the suite started is left running. (The scenarios' own checks are the
//! assertions: a lost or duplicated task, a late exit or a stale overwrite fails the command.)

mod common;

use common::{lab, processes_using};

/// Runs `coinbeat-lab faults <args>` with its temporary folders under a fresh directory; the
/// reliability file it wrote and that directory.
fn faults(args: &[&str]) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("RELIABILITY.md");
    std::fs::write(&out, "# Reliability\n\nThe text above the table stays.\n").unwrap();
    let mut all = vec!["faults"];
    all.extend_from_slice(args);
    let out_arg = out.to_str().unwrap();
    all.extend(["--out", out_arg]);
    lab(dir.path(), all);
    assert_eq!(
        processes_using(dir.path()),
        Vec::<String>::new(),
        "processes left behind"
    );
    (std::fs::read_to_string(&out).unwrap(), dir)
}

#[test]
fn killed_and_rolling_restarted_workers_lose_nothing_and_the_table_is_written() {
    let (written, _dir) = faults(&["kill", "--jobs", "3000"]);
    assert!(
        written.starts_with("# Reliability\n\nThe text above the table stays.\n"),
        "{written}"
    );
    assert!(written.contains("| kill | 3000 | 0 |"), "{written}");
    assert!(written.contains("faults kill --jobs 3000"), "{written}");

    let (written, _dir) = faults(&["sigterm", "--rolling-jobs", "2000"]);
    assert!(written.contains("| sigterm | 2000 | 0 | 0 |"), "{written}");
}

#[test]
fn a_frozen_workers_late_answer_never_overwrites_the_newer_record() {
    let (written, _dir) = faults(&["pause"]);
    assert!(written.contains("| pause | 1 | 0 | 0 |"), "{written}");
    assert!(written.contains("stale overwrites: 0"), "{written}");
}

#[test]
fn a_full_redis_refuses_enqueues_for_memory_and_reset_connections_lose_no_ack() {
    let (written, _dir) = faults(&["memory-pressure"]);
    assert!(written.contains("| memory-pressure |"), "{written}");
    assert!(written.contains("worker restarts: 0"), "{written}");

    let (written, _dir) = faults(&["ack-reset"]);
    assert!(written.contains("| ack-reset |"), "{written}");
    assert!(written.contains("0 dead, 0 lost"), "{written}");
}
