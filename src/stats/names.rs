//! The metric names the `metrics` feature publishes: one table, documented in
//! `docs/OPERATING.md`, checked by a test recorder (`tests/metrics_names.rs`).
//!
//! Every metric carries the label `dir` (the journal's directory), so several journals
//! in one process stay apart.

/// What kind of metric a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricKind {
    /// Only grows (published as an absolute value).
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution (one sample per event).
    Histogram,
}

/// One published metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricName {
    /// The full name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The unit (`bytes`, `seconds`, or empty for a plain count).
    pub unit: &'static str,
    /// What it measures.
    pub help: &'static str,
}

const fn m(
    name: &'static str,
    kind: MetricKind,
    unit: &'static str,
    help: &'static str,
) -> MetricName {
    MetricName {
        name,
        kind,
        unit,
        help,
    }
}

use MetricKind::{Counter, Gauge, Histogram};

/// Flush (msync/fdatasync) latency, one sample per sync.
pub const FLUSH_SECONDS: &str = "checkpoint_journal_flush_seconds";

/// The durable lag in time: the time since the durable frontier last caught up with the
/// published one, while something is pending (0 when everything published is durable).
pub const DURABLE_LAG_SECONDS: &str = "checkpoint_journal_durable_lag_seconds";

/// Every metric the `metrics` feature publishes.
pub const METRIC_NAMES: &[MetricName] = &[
    m(
        "checkpoint_journal_entries_total",
        Counter,
        "",
        "entries appended since open",
    ),
    m(
        "checkpoint_journal_entry_frames_total",
        Counter,
        "",
        "entry frames appended since open",
    ),
    m(
        "checkpoint_journal_checkpoints_total",
        Counter,
        "",
        "checkpoint frames appended since open",
    ),
    m(
        "checkpoint_journal_other_frames_total",
        Counter,
        "",
        "frames of other kinds appended since open",
    ),
    m(
        "checkpoint_journal_appended_bytes_total",
        Counter,
        "bytes",
        "bytes of frames appended since open",
    ),
    m(
        "checkpoint_journal_flushes_total",
        Counter,
        "",
        "syncs that made data durable since open",
    ),
    m(
        "checkpoint_journal_flushed_bytes_total",
        Counter,
        "bytes",
        "bytes the syncs covered",
    ),
    m(FLUSH_SECONDS, Histogram, "seconds", "latency of each sync"),
    m(
        "checkpoint_journal_published_lsn",
        Gauge,
        "",
        "LSN just past the last published frame",
    ),
    m(
        "checkpoint_journal_durable_lsn",
        Gauge,
        "",
        "LSN below which every frame is durable",
    ),
    m(
        "checkpoint_journal_durable_lag_bytes",
        Gauge,
        "bytes",
        "published minus durable: what a power loss now could take",
    ),
    m(
        DURABLE_LAG_SECONDS,
        Gauge,
        "seconds",
        "how long the oldest published-but-not-durable frame has waited, at most (0: all durable)",
    ),
    m(
        "checkpoint_journal_replay_bytes",
        Gauge,
        "bytes",
        "bytes opening would replay (since the newest snapshot)",
    ),
    m(
        "checkpoint_journal_segments_live",
        Gauge,
        "",
        "segment files holding the journal",
    ),
    m(
        "checkpoint_journal_segments_retired_total",
        Counter,
        "",
        "segments removed by compaction since open",
    ),
    m(
        "checkpoint_journal_compactions_total",
        Counter,
        "",
        "compactions that completed since open",
    ),
    m(
        "checkpoint_journal_compaction_failures_total",
        Counter,
        "",
        "compactions that failed since open",
    ),
    m("checkpoint_journal_snapshots", Gauge, "", "snapshot files"),
    m(
        "checkpoint_journal_poisoned",
        Gauge,
        "",
        "1 once a sync failed (close and reopen), else 0",
    ),
];
