//! The cost of publishing metrics (feature `metrics`), measured in one run: async
//! `Journal::append` of one entry with the publisher off (`metrics_interval` zero, the
//! reference, `ref_` prefix) and on, publishing every millisecond into a recorder that
//! keeps every value (a thousand times more often than the 1 s default), with a
//! monitoring thread calling `Journal::stats()` every millisecond as well. The ratio
//! `median(ref) / median(bench)` is the throughput left with publishing on.
//!
//! The per-thread append counters behind `Journal::stats()` are compiled in both: their
//! own cost is measured against the commit before them (docs/PERFORMANCE.md).

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use checkpoint_journal::{Entry, Journal, Options};
use criterion::{criterion_group, Criterion, Throughput};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

use common::Clock;

/// Appends per journal before it is replaced (40-byte frames: 160 MB, in 64 MiB
/// segments with the preallocator on, as by default).
const APPENDS_PER_JOURNAL: u64 = 4_000_000;

/// A recorder that stores every value in one atomic (what an exporter does at least).
#[derive(Default)]
struct Sink(AtomicU64);

impl CounterFn for Sink {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl GaugeFn for Sink {
    fn increment(&self, value: f64) {
        self.set(value);
    }
    fn decrement(&self, value: f64) {
        self.set(-value);
    }
    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

impl HistogramFn for Sink {
    fn record(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

struct SinkRecorder;

impl Recorder for SinkRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Sink::default()))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(Sink::default()))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Sink::default()))
    }
}

/// A journal kept open across samples and replaced (untimed) after
/// `APPENDS_PER_JOURNAL` appends, so page cache and disk use stay bounded.
struct Rig {
    options: Options,
    current: Option<(Journal, tempfile::TempDir)>,
    appended: u64,
}

impl Rig {
    fn new(options: Options) -> Rig {
        Rig {
            options,
            current: None,
            appended: 0,
        }
    }

    fn journal(&mut self) -> &Journal {
        if self.appended >= APPENDS_PER_JOURNAL || self.current.is_none() {
            if let Some((journal, _dir)) = self.current.take() {
                journal.close_without_flush();
            }
            let dir = common::scratch_dir();
            let journal = Journal::open(dir.path(), self.options.clone()).expect("open");
            self.current = Some((journal, dir));
            self.appended = 0;
        }
        &self.current.as_ref().expect("just opened").0
    }

    /// Times `iters` appends, with a thread calling `stats()` every millisecond when
    /// `monitor` is set.
    fn run(&mut self, monitor: bool, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut done = 0;
        while done < iters {
            let count = (iters - done).min(APPENDS_PER_JOURNAL);
            let journal = self.journal();
            let stop = AtomicBool::new(false);
            std::thread::scope(|s| {
                if monitor {
                    s.spawn(|| {
                        while !stop.load(Ordering::Relaxed) {
                            black_box(journal.stats());
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    });
                }
                let started = common::clock().now();
                for i in done..done + count {
                    black_box(journal.append(Entry::push(7, i, 0)).expect("append"));
                }
                total += common::clock().since(started);
                stop.store(true, Ordering::Relaxed);
            });
            self.appended += count;
            done += count;
        }
        total
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some((journal, _dir)) = self.current.take() {
            journal.close_without_flush();
        }
    }
}

fn bench_metrics(c: &mut Criterion<Clock>) {
    let mut off = Rig::new(Options::default().metrics_interval(Duration::ZERO));
    let mut on = Rig::new(Options::default().metrics_interval(Duration::from_millis(1)));
    let mut group = c.benchmark_group("append_metrics");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ref_metrics_off", |b| b.iter_custom(|n| off.run(false, n)));
    group.bench_function("metrics_on_1ms_and_stats_1ms", |b| {
        b.iter_custom(|n| on.run(true, n));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_metrics
}

fn main() {
    metrics::set_global_recorder(SinkRecorder).expect("the only recorder");
    benches();
    Criterion::default().configure_from_args().final_summary();
}
