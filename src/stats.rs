//! `Stats`: a snapshot of what a journal has done and where its frontiers stand, for
//! dashboards and `cpj stats`.
//!
//! Taking one reads counters and frontiers; it never stops an appender. The append path
//! feeds it through per-thread counters (`counters.rs`), the flush leader through a
//! fixed histogram. [`Stats::from_dir`] builds one from the files alone, for a journal
//! open in another process (or not open at all).
//!
//! Every struct here is `#[non_exhaustive]`: fields are added (compaction, ring and
//! archiver sections are filled by those parts as they exist), never removed.

pub(crate) mod counters;
mod display;
#[cfg(feature = "metrics")]
mod export;
mod files;
pub(crate) mod lag;
mod names;
mod publish;
mod published;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::append::Log;
use crate::error::Result;
use crate::flush;
use crate::lsn::Lsn;
use crate::sync::lock;

pub use files::FileStats;
pub use names::{MetricKind, MetricName, DURABLE_LAG_SECONDS, FLUSH_SECONDS, METRIC_NAMES};
pub use publish::STATS_FILE_NAME;
pub use published::{
    read_published, read_published_with, PublishedStats, WriterInfo, WriterSnapshot, WriterState,
};

/// What runs beside a journal to publish its figures: the stats file for other
/// processes (`journal.stats`), the `metrics` feature's background publisher.
#[derive(Debug, Default)]
pub(crate) struct Observers {
    stats_file: crate::sync::Mutex<Option<publish::StatsFileThread>>,
    #[cfg(feature = "metrics")]
    metrics: crate::sync::Mutex<Option<export::MetricsThread>>,
}

impl Observers {
    /// Starts what the features and `options` ask for.
    pub(crate) fn start(log: &crate::sync::Arc<Log>, options: &crate::Options) -> Observers {
        let every = options.stats_file_interval;
        let stats_file = if every.is_zero() {
            None
        } else {
            publish::StatsFileThread::start(log, every)
        };
        #[cfg(feature = "metrics")]
        {
            let every = options.metrics_interval;
            let thread = (!every.is_zero()).then(|| export::MetricsThread::start(log, every));
            Observers {
                stats_file: crate::sync::Mutex::new(stats_file),
                metrics: crate::sync::Mutex::new(thread),
            }
        }
        #[cfg(not(feature = "metrics"))]
        Observers {
            stats_file: crate::sync::Mutex::new(stats_file),
        }
    }

    /// Stops them: the stats file is removed, the metrics publisher publishes once more.
    pub(crate) fn stop(&self) {
        if let Some(mut thread) = lock(&self.stats_file).take() {
            thread.stop();
        }
        #[cfg(feature = "metrics")]
        if let Some(mut thread) = lock(&self.metrics).take() {
            thread.stop();
        }
    }
}

/// Where a [`Stats`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StatsSource {
    /// `Journal::stats()` in the process that has the journal open: counts since open.
    Live,
    /// [`Stats::from_dir`]: what the files hold now (counts over every frame they hold;
    /// the durable frontier is the highest one a frame claims, a lower bound).
    Files,
}

/// A snapshot of a journal's counters and frontiers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Where these figures come from, and so what the counts cover.
    pub source: StatsSource,
    /// The journal's directory (in JSON, a name that is not UTF-8 is shown lossily).
    #[serde(serialize_with = "lossy_path")]
    pub dir: PathBuf,
    /// The journal's identity (32 hex digits in JSON).
    #[serde(serialize_with = "hex_id", deserialize_with = "from_hex_id")]
    pub journal_id: u128,
    /// Time since the journal was opened (`Live`), in milliseconds; `None` from files.
    pub uptime_ms: Option<u64>,
    /// Frames appended (since open) or held (from files).
    pub appends: AppendStats,
    /// Syncs that made data durable.
    pub flushes: FlushStats,
    /// The frontiers and the distances between them.
    pub lsn: LsnStats,
    /// Segment files.
    pub segments: SegmentStats,
    /// Snapshot files (none until compaction writes them).
    pub snapshots: SnapshotStats,
    /// Compaction counters, once compaction runs in this journal.
    pub compaction: Option<CompactionStats>,
    /// The changelog ring feeding the journal, if one reports here.
    pub ring: Option<RingCounts>,
    /// The object-store archiver, if one runs.
    pub archive: Option<ArchiveStats>,
    /// Why the journal is poisoned (a flush failed; close and reopen), or `None`.
    pub poisoned: Option<String>,
}

/// Frames appended, by kind. Padding (segment ends, close markers) is not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppendStats {
    /// Entries, over every entry frame.
    pub entries: u64,
    /// Entry frames (one per `append`, one or more per `append_batch`).
    pub entry_frames: u64,
    /// Checkpoint frames.
    pub checkpoints: u64,
    /// Frames of other kinds (metadata).
    pub other_frames: u64,
    /// Bytes of the counted frames, headers and alignment included.
    pub bytes: u64,
}

impl AppendStats {
    /// Every counted frame.
    #[must_use]
    pub fn frames(&self) -> u64 {
        self.entry_frames + self.checkpoints + self.other_frames
    }
}

/// Syncs (msync/fdatasync of a range) that succeeded, and how long they took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FlushStats {
    /// Syncs since open (a group commit counts once).
    pub count: u64,
    /// Bytes the syncs covered.
    pub bytes: u64,
    /// Frames appended per sync (0 before the first).
    pub frames_per_flush: f64,
    /// Median sync latency, as the upper edge of its power-of-two histogram bucket.
    pub p50_us: u64,
    /// 99th-percentile sync latency, as the upper edge of its bucket.
    pub p99_us: u64,
    /// Longest sync.
    pub max_us: u64,
    /// Mean sync latency.
    pub mean_us: u64,
}

/// The frontiers, and the lags between them in bytes of LSN.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LsnStats {
    /// The oldest LSN the journal holds.
    pub first: Lsn,
    /// Just past the last published frame.
    pub published: Lsn,
    /// Below it every frame is durable (from files: the highest claim a frame makes).
    pub durable: Lsn,
    /// Below it everything is folded into a snapshot (`None` before the first).
    pub compacted: Option<Lsn>,
    /// `published - durable`: what a power loss now could take.
    pub durable_lag_bytes: u64,
    /// How long the oldest published-but-not-durable frame has waited, at most: 0 when
    /// everything published is durable, else the time since the durable frontier last
    /// caught up with the published one (the start of the last sync, or the open).
    /// `None` from files.
    pub durable_lag_ms: Option<u64>,
    /// `published - compacted` (or `- first` before any snapshot): what opening replays.
    pub replay_bytes: u64,
}

/// Segment files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SegmentStats {
    /// Segments holding the journal's range, the active one included.
    pub live: u64,
    /// Live segments below the active one (full; only read).
    pub sealed: u64,
    /// Segments removed by compaction since open.
    pub retired: u64,
    /// The next segment is already created (preallocated).
    pub spare: bool,
    /// Size of each segment file.
    pub segment_size_bytes: u64,
}

/// Snapshot files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SnapshotStats {
    /// Valid snapshot files.
    pub count: u64,
    /// The newest snapshot's LSN.
    pub last_lsn: Option<Lsn>,
    /// Age of the newest snapshot, if this process wrote it (`None` for one found at
    /// open).
    pub age_ms: Option<u64>,
}

/// Compaction counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompactionStats {
    /// Compactions that completed.
    pub runs: u64,
    /// Compactions that failed.
    pub failures: u64,
    /// Segment bytes released.
    pub bytes_reclaimed: u64,
    /// The last compaction's duration.
    pub last_duration_us: Option<u64>,
}

/// A bounded changelog ring's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RingCounts {
    /// Entries pushed.
    pub pushed: u64,
    /// Entries drained into the journal.
    pub drained: u64,
    /// Entries refused because the ring was full.
    pub dropped: u64,
    /// Entries overwritten before they were drained.
    pub overwritten: u64,
}

/// The object-store archiver's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArchiveStats {
    /// Segments waiting to be uploaded.
    pub queued: u64,
    /// Segments uploaded.
    pub archived: u64,
    /// Bytes uploaded.
    pub archived_bytes: u64,
    /// Uploads that failed.
    pub errors: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
}

impl Stats {
    /// Stats of the journal in `dir` from its files alone: read-only, no lock taken, so
    /// it works beside a writer in another process. Counts cover every frame the files
    /// hold; see [`FileStats`] to follow a directory with incremental scans.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] without segments; a segment that fails validation.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Stats> {
        let mut scan = FileStats::open(dir)?;
        scan.refresh()
    }
}

impl Stats {
    /// These stats with a changelog ring's counters (`RingProducer::stats`,
    /// `RingDrainer::stats` or a `RingMonitor`): the ring lives beside the journal,
    /// so its owner adds them.
    #[must_use]
    pub fn with_ring(mut self, ring: crate::ring::RingStats) -> Stats {
        self.ring = Some(RingCounts {
            pushed: ring.pushed,
            drained: ring.drained,
            dropped: ring.dropped,
            overwritten: ring.overwritten,
        });
        self
    }

    /// These stats with an archiver's counters (`Archiver::stats`, feature
    /// `object-store`): queued counts segments taken for upload plus the backlog.
    #[cfg(feature = "object-store")]
    #[must_use]
    pub fn with_archive(mut self, archive: &crate::archive::ArchiveStats) -> Stats {
        self.archive = Some(ArchiveStats {
            queued: archive.queue_depth + archive.backlog_segments,
            archived: archive.segments_uploaded,
            archived_bytes: archive.bytes_uploaded,
            errors: archive.errors,
            last_error: archive.last_error.clone(),
        });
        self
    }
}

/// The stats of an open journal.
pub(crate) fn live(log: &Log) -> Stats {
    let published = Lsn(flush::advance_published(log));
    let durable = log.frontier.durable();
    let lag = log
        .frontier
        .lag
        .lag(published.0, durable.0, std::time::Instant::now());
    let totals = log.appends.totals();
    let appends = AppendStats {
        entries: totals.entries,
        entry_frames: totals.entry_frames,
        checkpoints: totals.checkpoints,
        other_frames: totals.other_frames,
        bytes: totals.bytes,
    };
    let (mut segments, first) = segment_stats(log);
    let compactions = log.compactions.totals();
    segments.retired = compactions.segments_retired;
    let snapshots = crate::snapshot::list(&*log.storage, &log.dir)
        .map(|l| l.snapshots)
        .unwrap_or_default();
    let compacted = snapshots.first().map(|(lsn, _)| Lsn(*lsn));
    Stats {
        source: StatsSource::Live,
        dir: log.dir.clone(),
        journal_id: log.journal_id,
        uptime_ms: Some(millis(log.appends.opened_at().elapsed())),
        flushes: flush_stats(&log.frontier.flush_stats.totals(), appends.frames()),
        appends,
        lsn: LsnStats {
            durable_lag_ms: Some(millis(lag)),
            ..lsn_stats(first, published, durable, compacted)
        },
        segments,
        snapshots: SnapshotStats {
            count: snapshots.len() as u64,
            last_lsn: compacted,
            age_ms: compactions.last_snapshot.map(|at| millis(at.elapsed())),
        },
        compaction: Some(CompactionStats {
            runs: compactions.runs,
            failures: compactions.failures,
            bytes_reclaimed: compactions.bytes_freed,
            last_duration_us: compactions.last_duration.map(micros),
        }),
        ring: None,
        archive: None,
        poisoned: log.frontier.check_poison().err().map(|e| e.to_string()),
    }
}

fn segment_stats(log: &Log) -> (SegmentStats, Lsn) {
    let table = lock(&log.segments);
    let active_base = table.active().map_or(u64::MAX, |(_, s)| s.base());
    let first = Lsn(table.by_base.keys().next().copied().unwrap_or(0));
    let stats = SegmentStats {
        live: table.by_base.len() as u64,
        sealed: table.by_base.range(..active_base).count() as u64,
        retired: 0,
        spare: table.has_spare(),
        segment_size_bytes: log.segment_size_bytes,
    };
    (stats, first)
}

fn flush_stats(t: &counters::FlushTotals, frames: u64) -> FlushStats {
    #[expect(
        clippy::cast_precision_loss,
        reason = "a ratio for display; 2^52 frames is far away"
    )]
    let frames_per_flush = if t.flushes == 0 {
        0.0
    } else {
        frames as f64 / t.flushes as f64
    };
    FlushStats {
        count: t.flushes,
        bytes: t.bytes,
        frames_per_flush,
        p50_us: micros(t.p50),
        p99_us: micros(t.p99),
        max_us: micros(t.max),
        mean_us: micros(t.total) / t.flushes.max(1),
    }
}

pub(crate) fn lsn_stats(
    first: Lsn,
    published: Lsn,
    durable: Lsn,
    compacted: Option<Lsn>,
) -> LsnStats {
    LsnStats {
        first,
        published,
        durable,
        compacted,
        durable_lag_bytes: published.0.saturating_sub(durable.0),
        durable_lag_ms: None,
        replay_bytes: published.0.saturating_sub(compacted.unwrap_or(first).0),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, millis)
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn hex_id<S: Serializer>(id: &u128, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{id:032x}"))
}

pub(crate) fn from_hex_id<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u128, D::Error> {
    let text = String::deserialize(d)?;
    u128::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
}

fn lossy_path<S: Serializer>(path: &Path, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(&path.to_string_lossy())
}
