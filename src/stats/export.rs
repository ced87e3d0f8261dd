//! The `metrics` feature: publishes [`Stats`] through the `metrics` facade under the
//! names of `names.rs`, so any exporter (for Prometheus, for `StatsD`, ...) picks them up.
//!
//! Nothing runs on the append path: a background thread (`cpj-metrics`) takes a
//! `Stats` every `Options::metrics_interval` and sets the counters (as absolute values)
//! and gauges; the flush leader records each sync's latency into the histogram.

use std::ops::ControlFlow;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use super::names::{MetricKind, DURABLE_LAG_SECONDS, FLUSH_SECONDS, METRIC_NAMES};
use super::Stats;
use crate::append::Log;
use crate::periodic::Periodic;
use crate::sync::Arc;

/// A registered metric.
#[derive(Debug)]
enum Handle {
    Counter(Counter),
    Gauge(Gauge),
    /// Recorded by the flush leader, not by [`Exporter::publish`].
    Histogram,
}

/// The handles of one journal's metrics, labelled with its directory.
#[derive(Debug)]
pub(crate) struct Exporter {
    handles: Vec<(&'static str, Handle)>,
}

impl Exporter {
    /// Describes and registers every metric; hands the flush histogram to the frontier.
    pub(crate) fn new(log: &Log) -> Exporter {
        let dir = log.dir.display().to_string();
        let mut handles = Vec::with_capacity(METRIC_NAMES.len());
        for metric in METRIC_NAMES {
            let unit = unit_of(metric.unit);
            let handle = match metric.kind {
                MetricKind::Counter => {
                    metrics::describe_counter!(metric.name, unit, metric.help);
                    Handle::Counter(metrics::counter!(metric.name, "dir" => dir.clone()))
                }
                MetricKind::Gauge => {
                    metrics::describe_gauge!(metric.name, unit, metric.help);
                    Handle::Gauge(metrics::gauge!(metric.name, "dir" => dir.clone()))
                }
                MetricKind::Histogram => {
                    metrics::describe_histogram!(metric.name, unit, metric.help);
                    Handle::Histogram
                }
            };
            handles.push((metric.name, handle));
        }
        let histogram: Histogram = metrics::histogram!(FLUSH_SECONDS, "dir" => dir);
        // Set once per journal: `new` runs once, at open.
        let _ = log.frontier.flush_stats.histogram.set(histogram);
        Exporter { handles }
    }

    /// Sets every counter and gauge from `stats`.
    pub(crate) fn publish(&self, stats: &Stats) {
        for (name, handle) in &self.handles {
            let Some(value) = value_of(stats, name) else {
                debug_assert!(matches!(handle, Handle::Histogram), "{name} has no value");
                continue;
            };
            match handle {
                Handle::Counter(c) => c.absolute(value),
                #[expect(clippy::cast_precision_loss, reason = "gauges are f64 by contract")]
                Handle::Gauge(g) if *name == DURABLE_LAG_SECONDS => g.set(value as f64 / 1e3),
                #[expect(clippy::cast_precision_loss, reason = "gauges are f64 by contract")]
                Handle::Gauge(g) => g.set(value as f64),
                Handle::Histogram => {}
            }
        }
    }
}

fn unit_of(unit: &str) -> metrics::Unit {
    match unit {
        "bytes" => metrics::Unit::Bytes,
        "seconds" => metrics::Unit::Seconds,
        _ => metrics::Unit::Count,
    }
}

/// The value `stats` gives the metric `name` (milliseconds for the durable lag in
/// seconds); `None` for the histogram.
fn value_of(stats: &Stats, name: &str) -> Option<u64> {
    let suffix = name.strip_prefix("checkpoint_journal_")?;
    let a = &stats.appends;
    Some(match suffix {
        "entries_total" => a.entries,
        "entry_frames_total" => a.entry_frames,
        "checkpoints_total" => a.checkpoints,
        "other_frames_total" => a.other_frames,
        "appended_bytes_total" => a.bytes,
        "flushes_total" => stats.flushes.count,
        "flushed_bytes_total" => stats.flushes.bytes,
        "published_lsn" => stats.lsn.published.0,
        "durable_lsn" => stats.lsn.durable.0,
        "durable_lag_bytes" => stats.lsn.durable_lag_bytes,
        "durable_lag_seconds" => stats.lsn.durable_lag_ms.unwrap_or(0),
        "replay_bytes" => stats.lsn.replay_bytes,
        "segments_live" => stats.segments.live,
        "segments_retired_total" => stats.segments.retired,
        "snapshots" => stats.snapshots.count,
        "compactions_total" => stats.compaction.map_or(0, |c| c.runs),
        "compaction_failures_total" => stats.compaction.map_or(0, |c| c.failures),
        "poisoned" => u64::from(stats.poisoned.is_some()),
        _ => return None,
    })
}

/// The background publisher; stopped (with a last publication) at close.
#[derive(Debug)]
pub(crate) struct MetricsThread {
    thread: Option<Periodic>,
    exporter: Arc<Exporter>,
    log: Arc<Log>,
}

impl MetricsThread {
    /// Publishes now and then every `every` until stopped.
    pub(crate) fn start(log: &Arc<Log>, every: Duration) -> MetricsThread {
        let exporter = Arc::new(Exporter::new(log));
        exporter.publish(&super::live(log));
        let (log2, exporter2) = (Arc::clone(log), Arc::clone(&exporter));
        let thread = Periodic::spawn("cpj-metrics", every, move || {
            exporter2.publish(&super::live(&log2));
            ControlFlow::Continue(())
        });
        MetricsThread {
            thread: thread.ok(),
            exporter,
            log: Arc::clone(log),
        }
    }

    /// Stops the thread after one last publication.
    pub(crate) fn stop(&mut self) {
        if let Some(mut thread) = self.thread.take() {
            thread.stop();
            self.exporter.publish(&super::live(&self.log));
        }
    }
}
