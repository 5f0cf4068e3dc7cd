//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per
//! family, before its samples; `name{label="value"} number` per sample, with escaping.
//!
//! Every family, in-process or read from Redis at scrape time, is written through
//! [`TextWriter`], so the format's rules live in this one file.

use std::{collections::BTreeSet, fmt::Write as _};

/// The `Content-Type` of a scrape answer in this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metric types of the 0.0.4 format that coinbeat uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Builds one exposition document.
///
/// Samples of a family must follow its [`TextWriter::family`] line with no other family in
/// between (the format requires a family's lines to be contiguous); a family announced twice
/// is a bug and panics.
#[derive(Debug, Default)]
pub struct TextWriter {
    out: String,
    families: BTreeSet<String>,
}

impl TextWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the `# HELP` and `# TYPE` lines of the family `name`.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        assert!(valid_metric_name(name), "invalid metric name {name:?}");
        assert!(
            self.families.insert(name.to_owned()),
            "metric family {name} written twice"
        );
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// Writes one sample line. `name` is the family's name, or for a histogram the family's
    /// name with `_bucket`, `_sum` or `_count`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                debug_assert!(valid_label_name(label), "invalid label name {label:?}");
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape_label_value(v));
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&format_value(value));
        self.out.push('\n');
    }

    /// The document.
    pub fn finish(self) -> String {
        self.out
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, and not the reserved `__` prefix.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// HELP text: backslash and line feed are escaped.
fn escape_help(help: &str) -> String {
    help.replace('\\', r"\\").replace('\n', r"\n")
}

/// Label values: backslash, double quote and line feed are escaped.
fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c => out.push(c),
        }
    }
    out
}

/// A float as Go's `ParseFloat` (Prometheus's parser) reads it: `+Inf`, `-Inf`, `NaN`, and
/// whole numbers without a fraction.
pub(crate) fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_is_help_then_type_then_its_samples_with_escaped_labels() {
        let mut w = TextWriter::new();
        w.family(
            "coinbeat_x_total",
            "What \\ it counts,\nin two lines.",
            Kind::Counter,
        );
        w.sample("coinbeat_x_total", &[("route", "/v1/a\"b\\c\nd")], 3.0);
        w.sample("coinbeat_x_total", &[], 0.25);
        assert_eq!(
            w.finish(),
            "# HELP coinbeat_x_total What \\\\ it counts,\\nin two lines.\n\
             # TYPE coinbeat_x_total counter\n\
             coinbeat_x_total{route=\"/v1/a\\\"b\\\\c\\nd\"} 3\n\
             coinbeat_x_total 0.25\n"
        );
    }

    #[test]
    fn infinities_and_nan_are_spelled_the_way_prometheus_reads_them() {
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(12.0), "12");
        assert_eq!(format_value(0.005), "0.005");
    }

    #[test]
    fn names_follow_the_format_and_reserved_label_names_are_refused() {
        assert!(valid_metric_name("coinbeat_http_requests_total"));
        assert!(valid_metric_name("a:b_c"));
        assert!(!valid_metric_name("1abc"));
        assert!(!valid_metric_name("a-b"));
        assert!(!valid_metric_name(""));
        assert!(valid_label_name("queue"));
        assert!(!valid_label_name("__name"));
        assert!(!valid_label_name("a:b"));
    }

    #[test]
    #[should_panic(expected = "written twice")]
    fn a_family_written_twice_is_a_bug() {
        let mut w = TextWriter::new();
        w.family("coinbeat_up", "h", Kind::Gauge);
        w.family("coinbeat_up", "h", Kind::Gauge);
    }
}
