//! One scenario's verdict, the suite's table, and where the table is kept (RELIABILITY.md).

use std::{fmt::Write as _, path::Path, time::Duration};

use anyhow::Context;

use crate::bench::machine::Machine;

/// Where the latest table starts in RELIABILITY.md; everything after it is replaced.
const MARKER: &str = "<!-- coinbeat faults: latest run below, written by the command -->";

/// What one scenario found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: &'static str,
    /// Jobs the scenario ran (or enqueued and had acknowledged).
    pub jobs: u64,
    /// Acknowledged jobs that never completed; `None` where the scenario does not count jobs.
    pub lost: Option<u64>,
    /// Completions beyond the first, per job.
    pub duplicated: Option<u64>,
    /// From the (last) fault to the system being whole again.
    pub recovery: Option<Duration>,
    pub passed: bool,
    /// The checks and the figures behind the verdict, in a sentence or two.
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn new(scenario: &'static str) -> Self {
        Self {
            scenario,
            jobs: 0,
            lost: None,
            duplicated: None,
            recovery: None,
            passed: true,
            notes: Vec::new(),
        }
    }

    /// The scenario could not be carried out at all (a child did not start, say).
    pub fn error(scenario: &'static str, error: &anyhow::Error) -> Self {
        let mut outcome = Self::new(scenario);
        outcome.passed = false;
        outcome.notes.push(format!("could not run: {error:#}"));
        outcome
    }

    /// Records a check: its description (with the figure) and whether it held.
    pub fn check(&mut self, held: bool, what: impl Into<String>) {
        let what = what.into();
        if held {
            self.notes.push(what);
        } else {
            self.passed = false;
            self.notes.push(format!("**FAILED**: {what}"));
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{}: {} ({})",
            self.scenario,
            if self.passed { "pass" } else { "FAIL" },
            self.notes.join("; ")
        )
    }
}

fn count(value: Option<u64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| v.to_string())
}

/// The table of every scenario run, with the machine and the command.
pub fn to_markdown(outcomes: &[Outcome], machine: &Machine, command: &str) -> String {
    let mut s = String::new();
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let _ = writeln!(s, "### Latest run — {now}");
    let _ = writeln!(s);
    let _ = writeln!(s, "- machine: {}", machine.describe());
    let _ = writeln!(s, "- command: `{command}`");
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| scenario | jobs | lost | duplicated | recovery | result | checks |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---|---|");
    for o in outcomes {
        let recovery = o
            .recovery
            .map_or_else(|| "–".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {recovery} | {} | {} |",
            o.scenario,
            o.jobs,
            count(o.lost),
            count(o.duplicated),
            if o.passed { "pass" } else { "**FAIL**" },
            o.notes.join("; ").replace('|', "\\|")
        );
    }
    s
}

/// Replaces the latest table in `path` (everything after the marker), creating the file with
/// a title when it does not exist.
pub fn write_latest(path: &Path, table: &str) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let head = match old.find(MARKER) {
        Some(at) => old[..at].to_owned(),
        None if old.is_empty() => "# Reliability\n\n".to_owned(),
        None => format!("{}\n\n", old.trim_end()),
    };
    let text = format!("{head}{MARKER}\n\n{table}");
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_table_replaces_the_previous_one_and_keeps_the_text_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("RELIABILITY.md");
        std::fs::write(&path, "# Reliability\n\nWhy and how.\n").unwrap();
        write_latest(&path, "first table\n").unwrap();
        write_latest(&path, "second table\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# Reliability\n\nWhy and how.\n"),
            "{text}"
        );
        assert!(text.ends_with("second table\n"), "{text}");
        assert!(!text.contains("first table"), "{text}");
        assert_eq!(text.matches(MARKER).count(), 1, "{text}");
    }

    #[test]
    fn a_failed_check_fails_the_scenario_and_says_so() {
        let mut outcome = Outcome::new("kill");
        outcome.check(true, "0 lost");
        assert!(outcome.passed);
        outcome.check(false, "3 duplicated > 2 allowed");
        assert!(!outcome.passed);
        assert!(outcome.summary().contains("**FAILED**: 3 duplicated"));
    }
}
