//! A scenario's figures as a Markdown section: printed, and appended to BENCHMARKS.md.

use std::{fmt::Write as _, io::Write as _, path::Path};

use anyhow::Context;

use super::machine::Machine;

/// One figure of a scenario.
#[derive(Debug, Clone)]
pub struct Row {
    pub metric: String,
    pub value: String,
    /// The target for this figure, if it has one, and whether it was met.
    pub target: Option<(String, bool)>,
}

impl Row {
    pub fn info(metric: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            metric: metric.into(),
            value: value.into(),
            target: None,
        }
    }

    pub fn target(
        metric: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        met: bool,
    ) -> Self {
        Self {
            metric: metric.into(),
            value: value.into(),
            target: Some((target.into(), met)),
        }
    }

    /// [`Row::target`] where the target applies to this measurement (`judged`), else
    /// [`Row::info`].
    pub fn target_if(
        judged: bool,
        metric: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        met: bool,
    ) -> Self {
        if judged {
            Self::target(metric, value, target, met)
        } else {
            Self::info(metric, value)
        }
    }
}

/// What one scenario measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub scenario: &'static str,
    /// How it was measured (sizes, runs, settings), one line.
    pub setup: String,
    pub rows: Vec<Row>,
    /// Where the time goes and anything else worth keeping with the figures.
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(scenario: &'static str, setup: impl Into<String>) -> Self {
        Self {
            scenario,
            setup: setup.into(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn to_markdown(&self, machine: &Machine, command: &str) -> String {
        let mut s = String::new();
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
        let _ = writeln!(s, "### {} — {now}", self.scenario);
        let _ = writeln!(s);
        let _ = writeln!(s, "- machine: {}", machine.describe());
        let _ = writeln!(s, "- command: `{command}`");
        let _ = writeln!(s, "- setup: {}", self.setup);
        let _ = writeln!(s);
        let _ = writeln!(s, "| figure | value | target | met |");
        let _ = writeln!(s, "|---|---:|---|---|");
        for row in &self.rows {
            let (target, met) = match &row.target {
                Some((t, true)) => (t.as_str(), "yes"),
                Some((t, false)) => (t.as_str(), "**no**"),
                None => ("", ""),
            };
            let _ = writeln!(s, "| {} | {} | {target} | {met} |", row.metric, row.value);
        }
        if !self.notes.is_empty() {
            let _ = writeln!(s);
            for note in &self.notes {
                let _ = writeln!(s, "- {note}");
            }
        }
        s
    }
}

/// Appends `section` to the benchmark file, creating it with a title if it does not exist.
pub fn append(path: &Path, section: &str) -> anyhow::Result<()> {
    let new = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut text = String::new();
    if new {
        text.push_str(
            "# Benchmarks\n\nRuns of `coinbeat bench`, appended by the command itself.\n",
        );
    }
    text.push('\n');
    text.push_str(section);
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
