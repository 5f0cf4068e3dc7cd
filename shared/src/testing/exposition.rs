//! A strict reader of the Prometheus text format 0.0.4 for tests, written apart from the
//! renderer (`crate::metrics::text`) so that a mistake in one is not hidden by the other.
//!
//! It panics, naming the line, on anything the format forbids or a scraper would reject: a
//! sample before its family's `# HELP` and `# TYPE`, a family's lines not contiguous, an
//! invalid name, a bad escape, a duplicate series, a counter below zero, histogram buckets
//! that are not cumulative or whose `+Inf` bucket is not the count.

use std::collections::{BTreeMap, BTreeSet};

/// A series' labels but `le`, in order.
type Labels = Vec<(String, String)>;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape.
#[derive(Debug, Clone)]
pub struct Exposition {
    pub text: String,
    pub samples: Vec<Sample>,
    /// Family name → type.
    pub types: BTreeMap<String, String>,
}

impl Exposition {
    /// Parses `text`, panicking on the first violation.
    pub fn parse(text: &str) -> Self {
        Parser::default().run(text)
    }

    /// The value of the series with exactly these labels, if present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
    }

    /// Like [`Exposition::value`], panicking (with the whole scrape) when the series is absent.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no series {name}{labels:?} in the scrape:\n{}", self.text))
    }

    /// Every sample of `name`.
    pub fn series(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }

    /// The declared type of the family `name`.
    pub fn type_of(&self, name: &str) -> Option<&str> {
        self.types.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Parser {
    helps: BTreeSet<String>,
    types: BTreeMap<String, String>,
    /// Families whose samples have started; the last one is the current block.
    started: Vec<String>,
    seen: BTreeSet<(String, Vec<(String, String)>)>,
    samples: Vec<Sample>,
}

impl Parser {
    fn run(mut self, text: &str) -> Exposition {
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "the scrape must end with a line feed"
        );
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let fail = |why: &str| -> ! { panic!("line {n}: {why}: {line:?}\n{text}") };
            if line.is_empty() {
                fail("empty line");
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _help) = rest.split_once(' ').unwrap_or((rest, ""));
                if !metric_name(name) {
                    fail("invalid metric name in HELP");
                }
                if !self.helps.insert(name.to_owned()) {
                    fail("second HELP for the family");
                }
                if self.started.iter().any(|f| f == name) {
                    fail("HELP after the family's samples");
                }
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let Some((name, kind)) = rest.split_once(' ') else {
                    fail("TYPE without a type")
                };
                if !metric_name(name) {
                    fail("invalid metric name in TYPE");
                }
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                    fail("unknown type");
                }
                if self
                    .types
                    .insert(name.to_owned(), kind.to_owned())
                    .is_some()
                {
                    fail("second TYPE for the family");
                }
                if self.started.iter().any(|f| f == name) {
                    fail("TYPE after the family's samples");
                }
            } else if line.starts_with('#') {
                // A plain comment is allowed by the format.
            } else {
                let sample = sample(line).unwrap_or_else(|why| fail(&why));
                let family = self.family_of(&sample.name);
                if !self.helps.contains(&family) || !self.types.contains_key(&family) {
                    fail("sample before its family's HELP and TYPE");
                }
                match self.started.last() {
                    Some(current) if *current == family => {}
                    _ if self.started.contains(&family) => fail("family's lines not contiguous"),
                    _ => self.started.push(family.clone()),
                }
                let key = (
                    sample.name.clone(),
                    sample
                        .labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
                if !self.seen.insert(key) {
                    fail("duplicate series");
                }
                if self.types[&family] == "counter" && (sample.value.is_nan() || sample.value < 0.0)
                {
                    fail("counter below zero or NaN");
                }
                self.samples.push(sample);
            }
        }
        self.check_histograms(text);
        Exposition {
            text: text.to_owned(),
            samples: self.samples,
            types: self.types,
        }
    }

    /// The family a sample belongs to: its name, or for a histogram's `_bucket`, `_sum`,
    /// `_count` the name without the suffix.
    fn family_of(&self, name: &str) -> String {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix)
                && self.types.get(base).is_some_and(|t| t == "histogram")
            {
                return base.to_owned();
            }
        }
        name.to_owned()
    }

    fn check_histograms(&self, text: &str) {
        for (family, _) in self.types.iter().filter(|(_, t)| *t == "histogram") {
            let bucket = format!("{family}_bucket");
            let count = format!("{family}_count");
            let mut by_series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self.samples.iter().filter(|s| s.name == bucket) {
                let le = s
                    .labels
                    .get("le")
                    .unwrap_or_else(|| panic!("{bucket} without le\n{text}"));
                let le: f64 = parse_value(le)
                    .unwrap_or_else(|| panic!("{bucket}: le {le:?} is no number\n{text}"));
                let rest = s
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "le")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                by_series.entry(rest).or_default().push((le, s.value));
            }
            for (labels, buckets) in by_series {
                assert!(
                    buckets
                        .windows(2)
                        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                    "{family}{labels:?}: buckets not ascending and cumulative\n{text}"
                );
                let (last_le, last) = *buckets.last().expect("one bucket");
                assert_eq!(
                    last_le,
                    f64::INFINITY,
                    "{family}{labels:?}: no +Inf\n{text}"
                );
                let total = self
                    .samples
                    .iter()
                    .find(|s| {
                        s.name == count
                            && s.labels
                                .iter()
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .eq(labels.iter().cloned())
                    })
                    .unwrap_or_else(|| panic!("{family}{labels:?}: no _count\n{text}"));
                assert_eq!(
                    total.value, last,
                    "{family}{labels:?}: +Inf != count\n{text}"
                );
            }
        }
    }
}

fn metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => s.parse().ok(),
        _ => None,
    }
}

/// `name{a="x",b="y"} value`, with no timestamp (coinbeat never writes one).
fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| "a sample needs a value".to_owned())?;
    let name = &line[..name_end];
    if !metric_name(name) {
        return Err("invalid metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let end = loop {
            // A label name up to '=', or the closing brace.
            let start = match chars.peek() {
                Some((_, '}')) => break chars.next().expect("peeked").0,
                Some((i, _)) => *i,
                None => return Err("unterminated label set".into()),
            };
            let eq = body[start..]
                .find('=')
                .ok_or_else(|| "label without '='".to_owned())?;
            let label = &body[start..start + eq];
            if !label_name(label) {
                return Err(format!("invalid label name {label:?}"));
            }
            while chars.peek().is_some_and(|(i, _)| *i <= start + eq) {
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value not quoted".into());
            }
            let mut value = String::new();
            loop {
                match chars.next().map(|(_, c)| c) {
                    Some('"') => break,
                    Some('\\') => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        _ => return Err("invalid escape in a label value".into()),
                    },
                    Some('\n') | None => return Err("unterminated label value".into()),
                    Some(c) => value.push(c),
                }
            }
            if labels.insert(label.to_owned(), value).is_some() {
                return Err(format!("label {label} twice"));
            }
            match chars.peek().map(|(_, c)| *c) {
                Some(',') => {
                    chars.next();
                }
                Some('}') => {}
                _ => return Err("expected ',' or '}' after a label value".into()),
            }
        };
        rest = &body[end + 1..];
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| "one space before the value".to_owned())?;
    if value.contains(' ') {
        return Err("extra fields after the value (timestamps are not expected)".into());
    }
    let value = parse_value(value).ok_or_else(|| format!("invalid value {value:?}"))?;
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_scrape_is_read_with_its_escapes() {
        let e = Exposition::parse(
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\",y=\"\"} 2\n\
             # HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n\
             h_sum 3.5\nh_count 2\n",
        );
        assert_eq!(e.get("a_total", &[("x", "q\"\\\n"), ("y", "")]), 2.0);
        assert_eq!(e.get("h_count", &[]), 2.0);
        assert_eq!(e.type_of("h"), Some("histogram"));
    }

    #[test]
    #[should_panic(expected = "before its family's HELP and TYPE")]
    fn a_sample_without_type_is_refused() {
        Exposition::parse("# HELP a A.\na 1\n");
    }

    #[test]
    #[should_panic(expected = "not contiguous")]
    fn a_family_split_in_two_blocks_is_refused() {
        Exposition::parse(
            "# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\n# HELP b B.\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n",
        );
    }

    #[test]
    #[should_panic(expected = "invalid escape")]
    fn an_unknown_escape_is_refused() {
        Exposition::parse("# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n");
    }

    #[test]
    #[should_panic(expected = "+Inf != count")]
    fn a_histogram_whose_inf_bucket_is_not_its_count_is_refused() {
        Exposition::parse(
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
        );
    }
}
