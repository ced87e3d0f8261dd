//! The counters behind `Journal::stats()`: per-thread append counters and the flush
//! latency histogram.
//!
//! Invariant of the append counters: each [`ThreadCounters`] block has exactly one
//! writer, the thread it was registered for, which bumps it with a plain load and store
//! (no locked instruction, no cache line shared with another writer: every block is
//! cache-padded). Readers sum the blocks of the registry. A block whose thread no longer
//! holds it (the thread exited or moved its segment cache to another journal) is folded
//! into `retired` under the registry lock, where no writer can reach it.
//!
//! The flush histogram is written only by the flush leader (one at a time) and by
//! nothing on the append path; it holds fixed power-of-two buckets, so recording a flush
//! never allocates.

use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::compaction::CompactionReport;
use crate::error::Error;
use crate::format::frame::FrameKind;
use crate::sync::{lock, Arc, CachePadded, Mutex, StatCell};

/// Append counts of one thread (or the sum of several).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AppendTotals {
    pub(crate) entries: u64,
    pub(crate) entry_frames: u64,
    pub(crate) checkpoints: u64,
    pub(crate) other_frames: u64,
    pub(crate) bytes: u64,
}

impl AppendTotals {
    fn add(&mut self, other: AppendTotals) {
        self.entries += other.entries;
        self.entry_frames += other.entry_frames;
        self.checkpoints += other.checkpoints;
        self.other_frames += other.other_frames;
        self.bytes += other.bytes;
    }
}

/// Bytes of an entry frame besides its entries (the header): an entry frame of `n`
/// entries is `ENTRY_FRAME_BASE_BYTES + n * ENTRY_LEN` bytes, so entry-frame bytes are
/// derived from the two counts instead of being counted.
const ENTRY_FRAME_BASE_BYTES: u64 = crate::region::entries_frame_len(0) as u64;
const _: () = assert!(
    crate::region::entries_frame_len(3) as u64
        == ENTRY_FRAME_BASE_BYTES + 3 * crate::entry::ENTRY_LEN as u64
);

/// One thread's append counters. Written only by that thread.
///
/// A one-entry append, the most frequent, bumps one counter: entries are counted as
/// frames plus the entries beyond each frame's first, and entry-frame bytes derive from
/// both (`ENTRY_FRAME_BASE_BYTES`).
#[derive(Debug, Default)]
pub(crate) struct ThreadCounters {
    entry_frames: StatCell,
    /// Entries beyond the first of each entry frame.
    extra_entries: StatCell,
    checkpoints: StatCell,
    other_frames: StatCell,
    /// Bytes of the frames that are not entry frames.
    other_bytes: StatCell,
}

impl ThreadCounters {
    /// Counts one published frame of `kind` holding `entries` entries, `frame_bytes`
    /// long. Padding (segment ends, close markers) is not an append and is not counted.
    #[inline]
    pub(crate) fn record(&self, kind: FrameKind, entries: usize, frame_bytes: u64) {
        match kind {
            FrameKind::Entries => {
                debug_assert_eq!(
                    frame_bytes,
                    ENTRY_FRAME_BASE_BYTES + entries as u64 * crate::entry::ENTRY_LEN as u64
                );
                self.entry_frames.bump_single_writer(1);
                if entries > 1 {
                    self.extra_entries.bump_single_writer(entries as u64 - 1);
                }
                return;
            }
            FrameKind::Checkpoint => self.checkpoints.bump_single_writer(1),
            FrameKind::Padding => return,
            // Meta frames (checkpoint coordination) count as other frames.
            FrameKind::Meta => self.other_frames.bump_single_writer(1),
        }
        self.other_bytes.bump_single_writer(frame_bytes);
    }

    fn totals(&self) -> AppendTotals {
        let entry_frames = self.entry_frames.get();
        let entries = entry_frames + self.extra_entries.get();
        let entry_bytes =
            entry_frames * ENTRY_FRAME_BASE_BYTES + entries * crate::entry::ENTRY_LEN as u64;
        AppendTotals {
            entries,
            entry_frames,
            checkpoints: self.checkpoints.get(),
            other_frames: self.other_frames.get(),
            bytes: entry_bytes + self.other_bytes.get(),
        }
    }
}

/// A thread's block, shared between the registry and the thread's segment cache.
pub(crate) type CounterBlock = Arc<CachePadded<ThreadCounters>>;

/// The append counters of one journal: a block per appending thread.
#[derive(Debug)]
pub(crate) struct AppendCounters {
    registry: Mutex<Registry>,
    opened_at: Instant,
}

impl Default for AppendCounters {
    fn default() -> AppendCounters {
        AppendCounters {
            registry: Mutex::new(Registry::default()),
            opened_at: Instant::now(),
        }
    }
}

#[derive(Debug, Default)]
struct Registry {
    blocks: Vec<(ThreadId, CounterBlock)>,
    /// Counts of blocks no thread holds any more.
    retired: AppendTotals,
}

impl Registry {
    /// Folds every block that only the registry still holds into `retired`. Called with
    /// the registry locked: a thread obtains its block only through the registry, so a
    /// block held by nobody else has no writer now and gets none later.
    fn fold_orphans(&mut self) {
        let mut retired = self.retired;
        self.blocks.retain(|(_, block)| {
            let orphan = Arc::strong_count(block) == 1;
            if orphan {
                retired.add(block.totals());
            }
            !orphan
        });
        self.retired = retired;
    }
}

impl AppendCounters {
    /// When counting started (the journal's open).
    pub(crate) fn opened_at(&self) -> Instant {
        self.opened_at
    }

    /// The calling thread's block, registered on first use. Called on a segment-cache
    /// miss (once per roll-over per thread), never per append.
    pub(crate) fn for_this_thread(&self) -> CounterBlock {
        let me = std::thread::current().id();
        let mut registry = lock(&self.registry);
        if let Some((_, block)) = registry.blocks.iter().find(|(id, _)| *id == me) {
            return Arc::clone(block);
        }
        registry.fold_orphans();
        let block = Arc::new(CachePadded::new(ThreadCounters::default()));
        registry.blocks.push((me, Arc::clone(&block)));
        block
    }

    /// The sum over every thread that ever appended.
    pub(crate) fn totals(&self) -> AppendTotals {
        let mut registry = lock(&self.registry);
        registry.fold_orphans();
        let mut sum = registry.retired;
        for (_, block) in &registry.blocks {
            sum.add(block.totals());
        }
        sum
    }
}

/// Compaction outcomes (`Compactor::run`), for stats.
#[derive(Debug, Default)]
pub(crate) struct CompactionCounters {
    runs: StatCell,
    failures: StatCell,
    bytes_freed: StatCell,
    segments_retired: StatCell,
    /// The last run's duration, plus one (0: no run yet).
    last_duration_us_plus_one: StatCell,
    /// When this process last wrote a snapshot.
    last_snapshot: Mutex<Option<Instant>>,
}

/// A reading of [`CompactionCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CompactionTotals {
    pub(crate) runs: u64,
    pub(crate) failures: u64,
    pub(crate) bytes_freed: u64,
    pub(crate) segments_retired: u64,
    pub(crate) last_duration: Option<Duration>,
    pub(crate) last_snapshot: Option<Instant>,
}

impl CompactionCounters {
    /// Counts one run's outcome.
    pub(crate) fn record(&self, outcome: Result<&CompactionReport, &Error>) {
        let Ok(report) = outcome else {
            self.failures.add(1);
            return;
        };
        self.runs.add(1);
        self.bytes_freed.add(report.bytes_freed);
        self.segments_retired
            .add(report.segments_retired.len() as u64);
        let us = u64::try_from(report.duration.as_micros()).unwrap_or(u64::MAX - 1);
        // One writer at a time: runs are serialised.
        self.last_duration_us_plus_one.set(us + 1);
        if report.snapshot_written {
            *lock(&self.last_snapshot) = Some(Instant::now());
        }
    }

    /// The counts now.
    pub(crate) fn totals(&self) -> CompactionTotals {
        let last = self.last_duration_us_plus_one.get();
        CompactionTotals {
            runs: self.runs.get(),
            failures: self.failures.get(),
            bytes_freed: self.bytes_freed.get(),
            segments_retired: self.segments_retired.get(),
            last_duration: last.checked_sub(1).map(Duration::from_micros),
            last_snapshot: *lock(&self.last_snapshot),
        }
    }
}

/// Buckets of the flush histogram: bucket `i` holds durations below `2^i` µs (and at
/// least `2^(i-1)` µs); the last one holds everything longer (over 35 minutes).
pub(crate) const FLUSH_BUCKETS: usize = 32;

/// Flush counts, bytes and a latency histogram. Written by the flush leader.
#[derive(Debug, Default)]
pub(crate) struct FlushCounters {
    buckets: [StatCell; FLUSH_BUCKETS],
    bytes: StatCell,
    total_ns: StatCell,
    max_ns: StatCell,
    /// The `metrics` feature's flush histogram, set at open when publishing is on.
    #[cfg(feature = "metrics")]
    pub(crate) histogram: std::sync::OnceLock<metrics::Histogram>,
}

/// A reading of [`FlushCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FlushTotals {
    pub(crate) flushes: u64,
    pub(crate) bytes: u64,
    pub(crate) total: Duration,
    pub(crate) max: Duration,
    /// Upper bounds (bucket edges, capped at `max`) of the 50th and 99th percentiles.
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

impl FlushCounters {
    /// Records one sync of `bytes` that took `took`.
    pub(crate) fn record(&self, bytes: u64, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        if let Some(bucket) = self.buckets.get(bucket_of(took)) {
            bucket.add(1);
        }
        self.bytes.add(bytes);
        self.total_ns.add(ns);
        self.max_ns.raise_to(ns);
        #[cfg(feature = "metrics")]
        if let Some(histogram) = self.histogram.get() {
            histogram.record(took.as_secs_f64());
        }
    }

    /// The counts now.
    pub(crate) fn totals(&self) -> FlushTotals {
        let counts: Vec<u64> = self.buckets.iter().map(StatCell::get).collect();
        let flushes = counts.iter().sum();
        let max = Duration::from_nanos(self.max_ns.get());
        FlushTotals {
            flushes,
            bytes: self.bytes.get(),
            total: Duration::from_nanos(self.total_ns.get()),
            max,
            p50: quantile(&counts, flushes, 50).min(max),
            p99: quantile(&counts, flushes, 99).min(max),
        }
    }
}

/// The bucket of a duration: the number of significant bits of its whole microseconds.
fn bucket_of(took: Duration) -> usize {
    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    let bits = (u64::BITS - us.leading_zeros()) as usize;
    bits.min(FLUSH_BUCKETS - 1)
}

/// The upper edge of the bucket holding the `percent`-th percentile of `total` samples.
fn quantile(counts: &[u64], total: u64, percent: u64) -> Duration {
    if total == 0 {
        return Duration::ZERO;
    }
    let rank = (total * percent).div_ceil(100).max(1);
    let mut seen = 0;
    for (i, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Duration::from_micros(1u64 << i);
        }
    }
    Duration::MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_of_microseconds() {
        assert_eq!(bucket_of(Duration::ZERO), 0);
        assert_eq!(bucket_of(Duration::from_nanos(999)), 0);
        assert_eq!(bucket_of(Duration::from_micros(1)), 1);
        assert_eq!(bucket_of(Duration::from_micros(3)), 2);
        assert_eq!(bucket_of(Duration::from_micros(4)), 3);
        assert_eq!(bucket_of(Duration::from_secs(1 << 40)), FLUSH_BUCKETS - 1);
    }

    #[test]
    fn percentiles_bound_the_samples_from_above() {
        let flush = FlushCounters::default();
        for _ in 0..98 {
            flush.record(8, Duration::from_micros(100));
        }
        flush.record(8, Duration::from_millis(5));
        flush.record(8, Duration::from_millis(7));
        let t = flush.totals();
        assert_eq!(t.flushes, 100);
        assert_eq!(t.bytes, 800);
        assert_eq!(t.max, Duration::from_millis(7));
        // 100 µs lies in [64, 128) µs.
        assert_eq!(t.p50, Duration::from_micros(128));
        // The 99th sample is the 5 ms one, in [4096, 8192) µs.
        assert_eq!(t.p99, Duration::from_micros(8192).min(t.max));
    }

    #[test]
    fn orphaned_blocks_keep_their_counts() {
        let counters = AppendCounters::default();
        std::thread::scope(|s| {
            s.spawn(|| {
                let block = counters.for_this_thread();
                block.record(FrameKind::Entries, 3, 88);
                block.record(FrameKind::Padding, 0, 4096);
            });
        });
        let mine = counters.for_this_thread();
        mine.record(FrameKind::Checkpoint, 0, 64);
        let t = counters.totals();
        assert_eq!(t.entries, 3);
        assert_eq!(t.entry_frames, 1);
        assert_eq!(t.checkpoints, 1);
        assert_eq!(t.bytes, 152);
        assert_eq!(
            lock(&counters.registry).blocks.len(),
            1,
            "the exited thread's block folded"
        );
    }
}
