//! In-process metrics: counters, gauges and histograms with labels, registered once in a
//! [`Registry`] and rendered on every scrape.
//!
//! No global state: each process (and each test) builds its own registry and hands clones of
//! its handles to whatever records. A family handle is an `Arc`; recording through it looks the
//! label set up under one short lock. A hot path binds its label set once instead
//! ([`Counter::bind`], [`Histogram::bind`]) and then records with atomics alone: no lock, no
//! allocation.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use super::text::{Kind, TextWriter, format_value, valid_label_name, valid_metric_name};

/// Bucket upper bounds in seconds for request durations (sub-millisecond to ten seconds).
pub const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bucket upper bounds in seconds for task run times (a probe to a five-minute wallet scan).
pub const TASK_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Every registered family, in registration order. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    families: Arc<Mutex<Vec<Family>>>,
}

#[derive(Debug, Clone)]
enum Family {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

impl Family {
    fn name(&self) -> &str {
        match self {
            Family::Counter(c) => &c.0.name,
            Family::Gauge(g) => &g.0.name,
            Family::Histogram(h) => &h.series.name,
        }
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a counter family. Panics on an invalid or already registered name: both are
    /// mistakes in a literal, found by the first test that builds the registry.
    pub fn counter(&self, name: &str, help: &str, labels: &[&'static str]) -> Counter {
        let c = Counter(Arc::new(Series::new(name, help, labels)));
        self.register(Family::Counter(c.clone()));
        c
    }

    /// Registers a gauge family (see [`Registry::counter`] for the panics).
    pub fn gauge(&self, name: &str, help: &str, labels: &[&'static str]) -> Gauge {
        let g = Gauge(Arc::new(Series::new(name, help, labels)));
        self.register(Family::Gauge(g.clone()));
        g
    }

    /// Registers a histogram family with these bucket upper bounds (ascending; `+Inf` is
    /// added). A label may not be called `le`.
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[&'static str],
        buckets: &[f64],
    ) -> Histogram {
        assert!(!labels.contains(&"le"), "{name}: `le` is the bucket label");
        assert!(
            buckets.windows(2).all(|w| w[0] < w[1]) && buckets.iter().all(|b| b.is_finite()),
            "{name}: buckets must be finite and ascending"
        );
        let h = Histogram {
            series: Arc::new(Series::new(name, help, labels)),
            bounds: buckets.into(),
        };
        self.register(Family::Histogram(h.clone()));
        h
    }

    fn register(&self, family: Family) {
        let mut families = lock(&self.families);
        assert!(
            families.iter().all(|f| f.name() != family.name()),
            "metric {} registered twice",
            family.name()
        );
        families.push(family);
    }

    /// Writes every family, its series sorted by label values.
    pub fn render_into(&self, w: &mut TextWriter) {
        let families = lock(&self.families).clone();
        for family in families {
            match family {
                Family::Counter(c) => c.0.render(w, Kind::Counter, |w, name, labels, v| {
                    w.sample(name, labels, v.load(Ordering::Relaxed) as f64)
                }),
                Family::Gauge(g) => g.0.render(w, Kind::Gauge, |w, name, labels, v| {
                    w.sample(name, labels, v.get())
                }),
                Family::Histogram(h) => h.render(w),
            }
        }
    }

    /// The whole registry as one exposition document.
    pub fn render(&self) -> String {
        let mut w = TextWriter::new();
        self.render_into(&mut w);
        w.finish()
    }
}

/// One family's name, help, label names and series; each series' value is a cell of atomics
/// that bound handles share.
#[derive(Debug)]
struct Series<T> {
    name: String,
    help: String,
    labels: Vec<&'static str>,
    values: Mutex<BTreeMap<Vec<String>, Arc<T>>>,
}

impl<T> Series<T> {
    fn new(name: &str, help: &str, labels: &[&'static str]) -> Self {
        assert!(valid_metric_name(name), "invalid metric name {name:?}");
        for label in labels {
            assert!(valid_label_name(label), "{name}: invalid label {label:?}");
        }
        Self {
            name: name.to_owned(),
            help: help.to_owned(),
            labels: labels.to_vec(),
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// The cell of the label set `values`, made by `make` the first time.
    fn cell(&self, values: &[&str], make: impl FnOnce() -> T) -> Arc<T> {
        assert_eq!(
            values.len(),
            self.labels.len(),
            "{}: labels {:?} take {} values",
            self.name,
            self.labels,
            self.labels.len()
        );
        let key = values.iter().map(|v| (*v).to_owned()).collect();
        Arc::clone(
            lock(&self.values)
                .entry(key)
                .or_insert_with(|| Arc::new(make())),
        )
    }

    fn get(&self, values: &[&str]) -> Option<Arc<T>> {
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        lock(&self.values).get(&key).cloned()
    }

    fn render(
        &self,
        w: &mut TextWriter,
        kind: Kind,
        mut sample: impl FnMut(&mut TextWriter, &str, &[(&str, &str)], &T),
    ) {
        w.family(&self.name, &self.help, kind);
        let values: Vec<(Vec<String>, Arc<T>)> = lock(&self.values)
            .iter()
            .map(|(key, cell)| (key.clone(), Arc::clone(cell)))
            .collect();
        for (key, value) in &values {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(key.iter().map(String::as_str))
                .collect();
            sample(w, &self.name, &labels, value);
        }
    }
}

/// An `f64` updated atomically (its bits in an [`AtomicU64`]).
#[derive(Debug, Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + delta).to_bits())
            });
    }
}

/// A monotonic count per label set.
#[derive(Debug, Clone)]
pub struct Counter(Arc<Series<AtomicU64>>);

impl Counter {
    pub fn inc(&self, labels: &[&str]) {
        self.inc_by(labels, 1);
    }

    pub fn inc_by(&self, labels: &[&str], n: u64) {
        self.0
            .cell(labels, AtomicU64::default)
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Makes the series exist at 0, so a scrape shows it before its first event.
    pub fn touch(&self, labels: &[&str]) {
        self.inc_by(labels, 0);
    }

    /// The current count (0 for a series never touched).
    pub fn get(&self, labels: &[&str]) -> u64 {
        self.0
            .get(labels)
            .map_or(0, |cell| cell.load(Ordering::Relaxed))
    }

    /// The series of `labels` (made, at 0, if new), to count without a lookup.
    pub fn bind(&self, labels: &[&str]) -> BoundCounter {
        BoundCounter(self.0.cell(labels, AtomicU64::default))
    }
}

/// One series of a [`Counter`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BoundCounter(Arc<AtomicU64>);

impl BoundCounter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A value that goes up and down, per label set.
#[derive(Debug, Clone)]
pub struct Gauge(Arc<Series<AtomicF64>>);

impl Gauge {
    pub fn set(&self, labels: &[&str], value: f64) {
        self.0.cell(labels, AtomicF64::default).set(value);
    }

    pub fn add(&self, labels: &[&str], delta: f64) {
        self.0.cell(labels, AtomicF64::default).add(delta);
    }

    pub fn get(&self, labels: &[&str]) -> f64 {
        self.0.get(labels).map_or(0.0, |cell| cell.get())
    }
}

/// Observations counted into buckets, per label set.
#[derive(Debug, Clone)]
pub struct Histogram {
    series: Arc<Series<Buckets>>,
    bounds: Arc<[f64]>,
}

/// One histogram series: a count per bucket (not cumulative; summed when rendered, so the
/// `+Inf` bucket and `_count` always agree) and the sum.
#[derive(Debug)]
struct Buckets {
    counts: Box<[AtomicU64]>,
    sum: AtomicF64,
}

impl Buckets {
    fn new(n: usize) -> Self {
        Self {
            counts: (0..n).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicF64::default(),
        }
    }

    fn observe(&self, bounds: &[f64], value: f64) {
        let slot = bounds.partition_point(|b| *b < value);
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.sum.add(value);
    }

    fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

impl Histogram {
    pub fn observe(&self, labels: &[&str], value: f64) {
        self.cell(labels).observe(&self.bounds, value);
    }

    /// How many observations the series holds.
    pub fn count(&self, labels: &[&str]) -> u64 {
        self.series.get(labels).map_or(0, |b| b.count())
    }

    /// The series of `labels` (made, empty, if new), to observe without a lookup.
    pub fn bind(&self, labels: &[&str]) -> BoundHistogram {
        BoundHistogram {
            buckets: self.cell(labels),
            bounds: Arc::clone(&self.bounds),
        }
    }

    fn cell(&self, labels: &[&str]) -> Arc<Buckets> {
        let n = self.bounds.len() + 1;
        self.series.cell(labels, || Buckets::new(n))
    }

    fn render(&self, w: &mut TextWriter) {
        let bounds = self.bounds.clone();
        let (bucket, sum, count) = (
            format!("{}_bucket", self.series.name),
            format!("{}_sum", self.series.name),
            format!("{}_count", self.series.name),
        );
        self.series
            .render(w, Kind::Histogram, |w, _name, labels, b| {
                let mut cumulative = 0;
                for (i, le) in bounds
                    .iter()
                    .copied()
                    .chain(std::iter::once(f64::INFINITY))
                    .enumerate()
                {
                    cumulative += b.counts[i].load(Ordering::Relaxed);
                    let le = format_value(le);
                    let mut with_le = labels.to_vec();
                    with_le.push(("le", &le));
                    w.sample(&bucket, &with_le, cumulative as f64);
                }
                w.sample(&sum, labels, b.sum.get());
                w.sample(&count, labels, cumulative as f64);
            });
    }
}

/// One series of a [`Histogram`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BoundHistogram {
    buckets: Arc<Buckets>,
    bounds: Arc<[f64]>,
}

impl BoundHistogram {
    pub fn observe(&self, value: f64) {
        self.buckets.observe(&self.bounds, value);
    }
}

/// A poisoned lock only means a panic elsewhere while recording; the counts are still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_render_one_line_per_label_set_in_label_order() {
        let r = Registry::new();
        let c = r.counter("coinbeat_t_total", "Tasks.", &["queue", "outcome"]);
        let g = r.gauge("coinbeat_in_flight", "Running.", &["queue"]);
        c.inc(&["prices", "done"]);
        c.inc(&["prices", "done"]);
        c.touch(&["prices", "dead"]);
        g.add(&["prices"], 2.0);
        g.add(&["prices"], -1.0);
        assert_eq!(
            r.render(),
            "# HELP coinbeat_t_total Tasks.\n# TYPE coinbeat_t_total counter\n\
             coinbeat_t_total{queue=\"prices\",outcome=\"dead\"} 0\n\
             coinbeat_t_total{queue=\"prices\",outcome=\"done\"} 2\n\
             # HELP coinbeat_in_flight Running.\n# TYPE coinbeat_in_flight gauge\n\
             coinbeat_in_flight{queue=\"prices\"} 1\n"
        );
    }

    #[test]
    fn a_histogram_renders_cumulative_buckets_up_to_inf_then_sum_and_count() {
        let r = Registry::new();
        let h = r.histogram("coinbeat_d_seconds", "Duration.", &["q"], &[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 7.0] {
            h.observe(&["a"], v);
        }
        assert_eq!(
            r.render(),
            "# HELP coinbeat_d_seconds Duration.\n# TYPE coinbeat_d_seconds histogram\n\
             coinbeat_d_seconds_bucket{q=\"a\",le=\"0.1\"} 2\n\
             coinbeat_d_seconds_bucket{q=\"a\",le=\"1\"} 3\n\
             coinbeat_d_seconds_bucket{q=\"a\",le=\"+Inf\"} 4\n\
             coinbeat_d_seconds_sum{q=\"a\"} 7.65\n\
             coinbeat_d_seconds_count{q=\"a\"} 4\n"
        );
    }

    #[test]
    fn bound_series_record_into_the_same_series_as_lookups() {
        let r = Registry::new();
        let c = r.counter("coinbeat_b_total", "B.", &["x"]);
        let h = r.histogram("coinbeat_b_seconds", "B.", &["x"], &[1.0]);
        let (bc, bh) = (c.bind(&["a"]), h.bind(&["a"]));
        bc.inc();
        c.inc(&["a"]);
        bh.observe(0.5);
        h.observe(&["a"], 2.0);
        assert_eq!(c.get(&["a"]), 2);
        assert_eq!(h.count(&["a"]), 2);
        assert!(r.render().contains("coinbeat_b_seconds_sum{x=\"a\"} 2.5\n"));
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn a_name_registered_twice_is_a_bug() {
        let r = Registry::new();
        r.counter("coinbeat_a_total", "A.", &[]);
        r.gauge("coinbeat_a_total", "A.", &[]);
    }

    #[test]
    #[should_panic(expected = "take 2 values")]
    fn recording_with_the_wrong_number_of_label_values_is_a_bug() {
        let r = Registry::new();
        r.counter("coinbeat_a_total", "A.", &["x", "y"])
            .inc(&["only one"]);
    }
}
