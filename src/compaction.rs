//! `compact()`: fold the durable prefix of the journal into a snapshot file, then retire
//! every segment that no kept snapshot and no pinned reader needs, and prune snapshots
//! beyond retention.
//!
//! Steps, each leaving a journal that opens (docs/DURABILITY.md "Compaction"):
//! 1. flush, and fold the frames below the durable frontier `D` into the compactor's
//!    state (never a frame above `D`: a snapshot holds only durable state);
//! 2. publish the snapshot at `D` (`snapshot::write`: temporary file, sync, rename,
//!    directory sync);
//! 3. the floor is the oldest kept snapshot's LSN (`keep_snapshots` newest are kept),
//!    lowered to the oldest pinned reader; segments that end at or below the floor are
//!    removed from the segment table and then from the directory, lowest first (so the
//!    remaining segments stay contiguous at every instant), and the directory is synced;
//! 4. snapshots beyond retention, and any that no remaining segment can continue, are
//!    removed, and the directory is synced.
//!
//! The last segment is never retired: appends continue in it or after it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::append::Log;
use crate::error::{Error, Result};
use crate::flush;
use crate::lsn::Lsn;
use crate::reader::{Frame, Reader};
use crate::segment::Segment;
use crate::snapshot;
use crate::state::State;
use crate::sync::{lock, Arc, AtomicU64, Mutex, Ordering};

mod background;
mod pins;

pub(crate) use background::Background;
pub use background::Compaction;
pub(crate) use pins::{Pin, Pins};

/// `newest_snapshot` when there is none.
const NO_SNAPSHOT: u64 = u64::MAX;

/// What one compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CompactionReport {
    /// LSN of the snapshot (the durable frontier when compaction started).
    pub snapshot_lsn: Lsn,
    /// The snapshot file.
    pub snapshot_path: PathBuf,
    /// A new snapshot was written (`false`: the newest one was already at this LSN).
    pub snapshot_written: bool,
    /// Segments ending at or below this LSN were retired.
    pub floor: Lsn,
    /// Oldest LSN still in the journal afterwards.
    pub first_lsn: Lsn,
    /// Segment files retired, oldest first (removed, or kept for recycling).
    pub segments_retired: Vec<PathBuf>,
    /// How many of them were kept for recycling (`Options::recycle_segments`).
    pub segments_recycled: usize,
    /// Snapshot files removed.
    pub snapshots_pruned: Vec<PathBuf>,
    /// Bytes of the files removed (not those kept for recycling).
    pub bytes_freed: u64,
    /// Time taken.
    pub duration: Duration,
}

/// One journal's compaction state; `run` is serialised by `inner`.
#[derive(Debug)]
pub(crate) struct Compactor {
    keep_snapshots: usize,
    /// The durable state folded so far (its `end` never passes the durable frontier).
    inner: Mutex<State>,
    /// The journal's lazily folded state: fast-forwarded to a new snapshot before
    /// segments are retired, so it never needs a retired frame.
    cache: Arc<Mutex<State>>,
    /// Positions of the journal's readers (lock order: `pins`, then the segment table).
    pub(crate) pins: Pins,
    /// LSN of the newest snapshot on disk (`NO_SNAPSHOT`: none). Read without `inner`.
    newest_snapshot: AtomicU64,
    last: Mutex<Option<CompactionReport>>,
    /// Held for a whole run: a background run and a `compact()` call never interleave
    /// their retirement and pruning.
    running: Mutex<()>,
}

impl Compactor {
    /// A compactor whose durable state starts as the journal's recovered state (`cache`,
    /// all of it durable at open) and whose newest snapshot is `newest`.
    pub(crate) fn new(
        cache: Arc<Mutex<State>>,
        keep_snapshots: usize,
        newest: Option<Lsn>,
    ) -> Compactor {
        assert!(
            keep_snapshots > 0,
            "Options::validate refuses keep_snapshots = 0"
        );
        let state = lock(&cache).clone();
        Compactor {
            keep_snapshots,
            inner: Mutex::new(state),
            cache,
            pins: Pins::default(),
            newest_snapshot: AtomicU64::new(newest.map_or(NO_SNAPSHOT, |l| l.0)),
            last: Mutex::new(None),
            running: Mutex::new(()),
        }
    }

    /// The newest snapshot's LSN, if one exists.
    pub(crate) fn newest_snapshot(&self) -> Option<Lsn> {
        Some(self.newest_snapshot.load(Ordering::Acquire))
            .filter(|l| *l != NO_SNAPSHOT)
            .map(Lsn)
    }

    /// The report of the last compaction this process ran.
    pub(crate) fn last_report(&self) -> Option<CompactionReport> {
        lock(&self.last).clone()
    }

    /// Runs one compaction (see the module docs), counted in the journal's stats.
    pub(crate) fn run(&self, log: &Arc<Log>) -> Result<CompactionReport> {
        let outcome = self.run_once(log);
        log.compactions.record(outcome.as_ref());
        outcome
    }

    fn run_once(&self, log: &Arc<Log>) -> Result<CompactionReport> {
        let started = Instant::now();
        let _running = lock(&self.running);
        let mut state = lock(&self.inner);
        let durable = flush::flush_all(log)?.0;
        fold(log, &mut state, durable)?;
        let _span =
            tracing::info_span!("compact", dir = %log.dir.display(), lsn = durable).entered();
        let mut report = CompactionReport {
            snapshot_lsn: Lsn(durable),
            ..CompactionReport::default()
        };
        self.publish(log, &state, &mut report)?;
        // Checkpoint coordination: retained checkpoints and consumer cursors pin frames.
        let retained = state.retention_floor().map_or(u64::MAX, |l| l.0);
        drop(state);
        let listing = snapshot::list(&*log.storage, &log.dir)?;
        let oldest_kept = listing
            .snapshots
            .iter()
            .take(self.keep_snapshots)
            .map(|(lsn, _)| *lsn)
            .min()
            .unwrap_or(durable);
        let retired = {
            // Readers register under `pins` and check the first LSN under the table
            // lock: each one is either counted here or finds its segments gone.
            let pins = lock(&self.pins.slots);
            let floor = Pins::oldest(&pins)
                .map_or(oldest_kept, |p| p.min(oldest_kept))
                .min(retained);
            report.floor = Lsn(floor);
            detach_segments(log, floor, &mut report)
        };
        remove_segments(log, retired, &mut report)?;
        prune_snapshots(log, &listing, self.keep_snapshots, &mut report)?;
        report.duration = started.elapsed();
        tracing::info!(
            lsn = durable,
            retired = report.segments_retired.len(),
            freed = report.bytes_freed,
            "compacted"
        );
        *lock(&self.last) = Some(report.clone());
        Ok(report)
    }

    /// Writes the snapshot of `state` unless the newest one is already at its LSN, then
    /// fast-forwards the journal's state cache if it lags behind.
    fn publish(&self, log: &Log, state: &State, report: &mut CompactionReport) -> Result<()> {
        let listing = snapshot::list(&*log.storage, &log.dir)?;
        match listing.snapshots.first() {
            Some((lsn, path)) if *lsn == state.end.0 => report.snapshot_path.clone_from(path),
            _ => {
                report.snapshot_path =
                    snapshot::write(&*log.storage, &log.dir, log.journal_id, state)?;
                report.snapshot_written = true;
            }
        }
        let mut cached = lock(&self.cache);
        if cached.end < state.end {
            cached.clone_from(state);
        }
        self.newest_snapshot.store(state.end.0, Ordering::Release);
        Ok(())
    }
}

/// Folds the frames in `[state.end, to)` into `state`; `to` is a frame boundary.
fn fold(log: &Arc<Log>, state: &mut State, to: u64) -> Result<()> {
    if state.end.0 >= to {
        return Ok(());
    }
    for frame in Reader::new(Arc::clone(log), state.end) {
        match frame? {
            Frame::Entries { lsn, entries } => {
                if lsn.0 >= to {
                    break;
                }
                state.apply_entries(&entries);
            }
            Frame::Checkpoint { lsn, record } => {
                if lsn.0 >= to {
                    break;
                }
                state.apply_checkpoint(lsn, record);
            }
            // Checkpoint coordination.
            Frame::Meta { lsn, record } => {
                if lsn.0 >= to {
                    break;
                }
                state.apply_meta(lsn, record);
            }
        }
    }
    state.end = Lsn(to);
    Ok(())
}

/// Removes the segments that end at or below `floor` (never the last one) from the
/// table; returns them, lowest first.
fn detach_segments(log: &Log, floor: u64, report: &mut CompactionReport) -> Vec<Arc<Segment>> {
    let mut table = lock(&log.segments);
    let last_base = table.by_base.keys().next_back().copied().unwrap_or(0);
    let doomed: Vec<u64> = table
        .by_base
        .iter()
        .filter(|(base, seg)| seg.end() <= floor && **base != last_base)
        .map(|(base, _)| *base)
        .collect();
    let retired: Vec<_> = doomed
        .iter()
        .filter_map(|base| table.detach(*base))
        .collect();
    report.first_lsn = Lsn(table.by_base.keys().next().copied().unwrap_or(0));
    retired
}

/// Removes (or keeps for recycling) the files of detached segments, lowest first, then
/// syncs the directory. Each segment is dropped just before its file is removed: with no
/// reader holding it, that unmaps it, so its pages leave the process's resident memory
/// while the file still exists, and the removal then frees the pages and blocks. (Removed
/// first, a file stays resident through the unmapping of its pages while no segment file
/// accounts for it.)
fn remove_segments(
    log: &Log,
    retired: Vec<Arc<Segment>>,
    report: &mut CompactionReport,
) -> Result<()> {
    let any = !retired.is_empty();
    for seg in retired {
        // The summary goes first: one left by a crash here is an orphan open removes.
        crate::summary::remove(&*log.storage, &log.dir, seg.base(), false)?;
        let retiring = seg.retiring();
        drop(seg);
        if log.retire_file(&retiring)? {
            report.segments_recycled += 1;
        } else {
            report.bytes_freed += retiring.size_bytes;
        }
        report.segments_retired.push(retiring.path);
    }
    if any {
        log.storage
            .sync_dir(&log.dir)
            .map_err(|e| Error::io(&log.dir, "fsync directory", e))?;
    }
    Ok(())
}

/// Removes the snapshots beyond the `keep` newest, and those older than the first
/// segment (nothing could continue them), then syncs the directory.
fn prune_snapshots(
    log: &Log,
    listing: &snapshot::Listing,
    keep: usize,
    report: &mut CompactionReport,
) -> Result<()> {
    let first = report.first_lsn.0;
    let doomed = listing
        .snapshots
        .iter()
        .enumerate()
        .filter(|(i, (lsn, _))| *i >= keep || *lsn < first)
        .map(|(_, (_, path))| path);
    for path in doomed {
        log.storage
            .remove_file(path)
            .map_err(|e| Error::io(path, "remove old snapshot", e))?;
        report.snapshots_pruned.push(path.clone());
    }
    if !report.snapshots_pruned.is_empty() {
        log.storage
            .sync_dir(&log.dir)
            .map_err(|e| Error::io(&log.dir, "fsync directory", e))?;
    }
    Ok(())
}
