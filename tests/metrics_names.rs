//! The `metrics` feature: a test recorder sees every name of `METRIC_NAMES`, with its
//! kind and the journal's `dir` label, and the values match the workload (entries,
//! flushes, one histogram sample per sync).
//!
//! One test in this binary: it installs the process-wide recorder.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::float_cmp,
    reason = "a test recorder: small exact counts stored as f64, failures are loud"
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use checkpoint_journal::stats::{MetricKind, FLUSH_SECONDS, METRIC_NAMES};
use checkpoint_journal::{Entry, Journal, Options};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// What the recorder saw of one metric.
#[derive(Debug, Default)]
struct Slot {
    kind: Option<MetricKind>,
    dir: Option<String>,
    /// Last counter or gauge value.
    value: f64,
    /// Histogram samples.
    samples: Vec<f64>,
    described: bool,
}

#[derive(Debug, Default)]
struct Seen(Mutex<BTreeMap<String, Slot>>);

/// A handle writing into one slot of [`Seen`].
struct Handle(&'static Seen, String);

impl Handle {
    fn with(&self, f: impl FnOnce(&mut Slot)) {
        f(self.0 .0.lock().unwrap().entry(self.1.clone()).or_default());
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.with(|s| s.value += value as f64);
    }
    fn absolute(&self, value: u64) {
        self.with(|s| s.value = value as f64);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.with(|s| s.value += value);
    }
    fn decrement(&self, value: f64) {
        self.with(|s| s.value -= value);
    }
    fn set(&self, value: f64) {
        self.with(|s| s.value = value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.with(|s| s.samples.push(value));
    }
}

struct TestRecorder(&'static Seen);

impl TestRecorder {
    fn register(&self, key: &Key, kind: MetricKind) -> Arc<Handle> {
        let name = key.name().to_owned();
        let dir = key
            .labels()
            .find(|l| l.key() == "dir")
            .map(|l| l.value().to_owned());
        let handle = Handle(self.0, name);
        handle.with(|s| {
            s.kind = Some(kind);
            s.dir = dir;
        });
        Arc::new(handle)
    }

    fn describe(&self, key: &KeyName) {
        Handle(self.0, key.as_str().to_owned()).with(|s| s.described = true);
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.describe(&key);
    }
    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.describe(&key);
    }
    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.describe(&key);
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.register(key, MetricKind::Counter))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.register(key, MetricKind::Gauge))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.register(key, MetricKind::Histogram))
    }
}

#[test]
fn a_recorder_sees_every_documented_name_with_the_workloads_values() {
    static SEEN: OnceLock<Seen> = OnceLock::new();
    let seen = SEEN.get_or_init(Seen::default);
    metrics::set_global_recorder(TestRecorder(seen)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let options = Options::default()
        .segment_size_bytes(64 * 1024)
        .metrics_interval(Duration::from_millis(5));
    let journal = Journal::open(dir.path(), options).unwrap();
    for i in 0..100 {
        journal.append(Entry::push(1, i, 0)).unwrap();
        if i % 40 == 0 {
            journal.flush().unwrap();
        }
    }
    let stats = journal.stats();
    assert_eq!(stats.flushes.count, 3);
    // Closing stops the publisher after one last publication, then flushes.
    journal.close().unwrap();

    let seen = seen.0.lock().unwrap();
    for metric in METRIC_NAMES {
        let slot = seen
            .get(metric.name)
            .unwrap_or_else(|| panic!("{} never registered", metric.name));
        assert_eq!(slot.kind, Some(metric.kind), "{}", metric.name);
        assert!(slot.described, "{} never described", metric.name);
        let expected_dir = dir.path().display().to_string();
        assert_eq!(
            slot.dir.as_deref(),
            Some(expected_dir.as_str()),
            "{}",
            metric.name
        );
    }
    assert_eq!(seen.len(), METRIC_NAMES.len(), "no undocumented name");
    let value = |name: &str| seen[name].value;
    assert_eq!(value("checkpoint_journal_entries_total"), 100.0);
    assert_eq!(value("checkpoint_journal_entry_frames_total"), 100.0);
    assert_eq!(value("checkpoint_journal_flushes_total"), 3.0);
    assert_eq!(value("checkpoint_journal_appended_bytes_total"), 4000.0);
    assert_eq!(value("checkpoint_journal_poisoned"), 0.0);
    assert_eq!(
        value("checkpoint_journal_segments_live"),
        stats.segments.live as f64
    );
    let samples = &seen[FLUSH_SECONDS].samples;
    // The three flushes of the workload, then close's own.
    assert!(samples.len() >= 3, "{samples:?}");
    assert!(
        samples.iter().all(|s| *s >= 0.0 && *s < 60.0),
        "{samples:?}"
    );
}
