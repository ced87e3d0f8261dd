//! The open path's recovery: list and validate segments, replay frames in LSN order,
//! classify the first invalid frame with the decision table (`recovery/table.rs`, and
//! docs/FORMAT.md "Recovery"), and truncate what the table says to truncate, durably,
//! before the first new append.
//!
//! Evidence about the first invalid frame at LSN `P`: `below` = some valid frame claims a durable frontier above
//! `P`; `valid_after` = a valid frame exists after `P`; `zero_after` = every byte from
//! `P` to the end of the last segment is zero.
//!
//! | row | below | valid_after | zero_after | case          | Strict | TolerateTornTail | Salvage  |
//! |-----|-------|-------------|------------|---------------|--------|------------------|----------|
//! | R1  | yes   | any         | any        | DurableDamage | error  | error            | truncate |
//! | R2  | no    | yes         | any        | UnsyncedGap   | error  | truncate         | truncate |
//! | R3  | no    | no          | yes        | CleanEnd      | accept | accept           | accept   |
//! | R4  | no    | no          | no         | TornTail      | error  | truncate         | truncate |

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::entry::ENTRY_LEN;
use crate::error::{Corruption, CorruptionKind, Error, Result};
use crate::format::frame::{FrameFault, FrameKind, FRAME_HEADER_LEN};
use crate::format::limits::{SEGMENTS_SCANNED_MAX, SEGMENT_SIZE_ALIGN_BYTES as SEGMENT_SIZE_ALIGN};
use crate::format::segment_header::SEGMENT_HEADER_LEN;
use crate::lsn::Lsn;
use crate::options::RecoveryMode;
use crate::region;
use crate::segment::{self, Segment};
use crate::state::State;
use crate::storage::Storage;
use crate::sync::Arc;

mod clean; // the clean-shutdown claim
mod recycled;
mod replay;
mod report;
mod seal;
// Compaction: the snapshot open starts from.
mod settle;
mod snapshots;
mod summaries; // segment summaries
mod table;
mod zero;

pub(crate) use seal::seal_older_format;

pub(crate) use clean::record as record_clean_shutdown;
pub use report::{Dropped, Inspection, RecoveryReport, SegmentInfo};
pub use snapshots::{SkippedSnapshot, SnapshotInfo};
pub use table::RecoveryCase;
pub(crate) use zero::next_non_zero;

/// The recovered journal: its segments, state, and where appends continue.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) journal_id: u128,
    pub(crate) segments: Vec<Arc<Segment>>,
    pub(crate) state: State,
    pub(crate) report: RecoveryReport,
    /// Every frame from this LSN to `report.end_lsn` was validated, checksum included,
    /// by this recovery's scan (readers of this process may trust them; see
    /// docs/DURABILITY.md "What a reader checks"). A scan that skips frames must not
    /// leave them above this bound.
    pub(crate) checked_from: Lsn,
}

/// Analyses the journal in `dir` as opening it in `mode` would — segments, replay, the
/// decision table — without taking the lock and without changing a byte: segments are
/// mapped read-only, nothing is truncated, removed or synced. `Ok(None)` if the
/// directory holds no segment. Errors are the ones opening would return.
///
/// # Errors
/// As [`crate::Journal::open`], except `Locked`.
pub fn inspect(dir: &Path, mode: RecoveryMode) -> Result<Option<Inspection>> {
    inspect_with_storage(&crate::storage::FsStorage, dir, mode)
}

/// [`inspect`] on any storage.
///
/// # Errors
/// As [`inspect`].
pub fn inspect_with_storage(
    storage: &dyn Storage,
    dir: &Path,
    mode: RecoveryMode,
) -> Result<Option<Inspection>> {
    let ctx = Ctx {
        storage,
        dir,
        mode,
        apply: false,
    };
    Ok(run(&ctx)?.map(|r| Inspection {
        journal_id: r.journal_id,
        report: r.report,
        state: r.state,
    }))
}

/// Opens and recovers the journal in `dir`; `None` if it holds no segment.
pub(crate) fn recover(
    storage: &dyn Storage,
    dir: &Path,
    mode: RecoveryMode,
) -> Result<Option<Recovered>> {
    run(&Ctx {
        storage,
        dir,
        mode,
        apply: true,
    })
}

/// Where recovery runs and whether it may change the files.
struct Ctx<'a> {
    storage: &'a dyn Storage,
    dir: &'a Path,
    mode: RecoveryMode,
    apply: bool,
}

fn run(ctx: &Ctx<'_>) -> Result<Option<Recovered>> {
    let started = Instant::now();
    let _span =
        tracing::info_span!("recovery", dir = %ctx.dir.display(), apply = ctx.apply).entered();
    let mut report = RecoveryReport {
        dry_run: !ctx.apply,
        ..RecoveryReport::default()
    };
    recycled::remove_free_files(ctx, &mut report)?;
    let clean = clean::take(ctx, &mut report)?;
    let segments = open_segments(ctx, &mut report)?;
    if ctx.apply && !segments.is_empty() {
        // A segment created by a process that crashed before its directory fsync is
        // visible in the page cache but not durable: make every name durable before
        // anything is appended to those files.
        ctx.storage
            .sync_dir(ctx.dir)
            .map_err(|e| Error::io(ctx.dir, "fsync directory", e))?;
    }
    let Some(first) = segments.first() else {
        snapshots::refuse_orphans(ctx)?;
        clean.remove(ctx)?;
        return Ok(None);
    };
    let journal_id = first.header.journal_id;
    report.first_lsn = Lsn(first.base());
    report.segments_scanned = segments.len();
    let start = snapshots::choose(ctx, &segments, &mut report)?;
    let mut state = start.state;
    let loaded = summaries::load(ctx, &segments, start.from, &mut report)?;
    // Frames of summarized segments are not read: readers must not trust them as checked.
    let checked_from = Lsn(start.from.max(first.base()).max(loaded.skipped_to()));
    let end = scan(&segments, start.from, &loaded, &mut state, &mut report)?;
    let end = match end {
        ScanEnd::Full(end) => end,
        ScanEnd::Invalid { pos, fault, claim } => {
            summaries::invalidate_from(ctx, &segments, pos, &loaded, &mut report)?;
            if clean.holds(journal_id, &segments, pos, fault, &mut report) {
                // A clean close left every byte after `pos` zero and everything below
                // it durable (docs/DURABILITY.md "Clean shutdown").
                (report.case, report.durable_claim) = (Some(RecoveryCase::CleanEnd), Lsn(claim));
                report.clean_shutdown = true;
                pos
            } else {
                settle::settle(ctx, &segments, pos, fault, claim, &mut report)?
            }
        }
    };
    let segments = drop_empty_tail(ctx, segments, end, &mut report)?;
    summaries::report_missing(&loaded, &segments, start.from, &mut report);
    let unsynced = ctx.apply && !report.clean_shutdown;
    for seg in segments.iter().filter(|s| unsynced && s.base() < end) {
        seg.sync(seg.base(), end.min(seg.end()))?;
    }
    report.segments = segments.iter().map(|s| segment_info(s)).collect();
    report.end_lsn = Lsn(end);
    state.end = Lsn(end);
    report.duration = started.elapsed();
    clean.remove(ctx)?;
    if report.torn_bytes > 0 || report.dropped.is_some() {
        tracing::warn!(end, torn_bytes = report.torn_bytes, dropped = ?report.dropped, "recovery truncated the journal");
    }
    Ok(Some(Recovered {
        journal_id,
        segments,
        state,
        report,
        checked_from,
    }))
}

fn segment_info(s: &Segment) -> SegmentInfo {
    SegmentInfo {
        path: s.path.clone(),
        base_lsn: Lsn(s.base()),
        end_lsn: Lsn(s.end()),
        size_bytes: s.header.segment_size_bytes,
        created_at_ms: s.header.created_at_ms,
    }
}

/// Removes the segments that start at or after `end` (beyond the first): they hold no
/// frame, and one made by an earlier process may have a header that never reached the
/// disk (a failed sync marks pages clean without writing them, and a restart cannot
/// tell). Appends create such segments afresh, with a synced header, when they need them.
fn drop_empty_tail(
    ctx: &Ctx<'_>,
    segments: Vec<Arc<Segment>>,
    end: u64,
    report: &mut RecoveryReport,
) -> Result<Vec<Arc<Segment>>> {
    let first_base = segments.first().map_or(0, |s| s.base());
    let (keep, empty): (Vec<_>, Vec<_>) = segments
        .into_iter()
        .partition(|s| s.base() < end || s.base() == first_base);
    for seg in &empty {
        if ctx.apply {
            ctx.storage
                .remove_file(&seg.path)
                .map_err(|e| Error::io(&seg.path, "remove segment", e))?;
        }
        report.empty_segments_removed.push(seg.path.clone());
    }
    if ctx.apply && !empty.is_empty() {
        ctx.storage
            .sync_dir(ctx.dir)
            .map_err(|e| Error::io(ctx.dir, "fsync directory", e))?;
    }
    Ok(keep)
}

/// Lists, orders and validates the segment files of `dir`.
fn open_segments(ctx: &Ctx<'_>, report: &mut RecoveryReport) -> Result<Vec<Arc<Segment>>> {
    let (storage, dir) = (ctx.storage, ctx.dir);
    let mut named = list_segment_files(storage, dir)?;
    named.sort_by_key(|(base, _, _)| *base);
    let mut out: Vec<Arc<Segment>> = Vec::with_capacity(named.len());
    let last = named.len().saturating_sub(1);
    for (i, (base, path, len)) in named.into_iter().enumerate() {
        let expected = out.first().map(|s| s.header.journal_id);
        let seg = match Segment::open(storage, &path, base, expected, ctx.apply) {
            Ok(seg) => seg,
            Err(e)
                if i == last
                    && ctx.mode != RecoveryMode::Strict
                    && unfinished_creation(&e, len) =>
            {
                if ctx.apply {
                    tracing::warn!(path = %path.display(), "removing a segment whose creation never completed");
                    storage
                        .remove_file(&path)
                        .map_err(|e| Error::io(&path, "remove segment", e))?;
                    storage
                        .sync_dir(dir)
                        .map_err(|e| Error::io(dir, "fsync directory", e))?;
                }
                report.removed_files.push(path);
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(prev) = out.last().filter(|p| p.end() != seg.base()) {
            return Err(corrupt(
                &seg.path,
                seg.base(),
                0,
                CorruptionKind::Gap {
                    expected: Lsn(prev.end()),
                },
            ));
        }
        out.push(Arc::new(seg));
    }
    Ok(out)
}

/// The segment files of `dir` as `(base, path, length)`, refusing names that are not
/// regular files and lengths that are not whole pages.
fn list_segment_files(storage: &dyn Storage, dir: &Path) -> Result<Vec<(u64, PathBuf, u64)>> {
    let mut named = Vec::new();
    for item in storage
        .list_dir(dir)
        .map_err(|e| Error::io(dir, "list directory", e))?
    {
        let Some(base) = segment::parse_name(&item.name) else {
            continue;
        };
        let path = dir.join(&item.name);
        let inconsistent = |what| corrupt(&path, base, 0, CorruptionKind::Inconsistent(what));
        if !item.is_file {
            return Err(inconsistent("a segment name that is not a regular file"));
        }
        if item.len >= SEGMENT_HEADER_LEN as u64 && !item.len.is_multiple_of(SEGMENT_SIZE_ALIGN) {
            return Err(inconsistent(
                "the file length is not a whole number of pages (truncated or extended by hand?)",
            ));
        }
        named.push((base, path, item.len));
        if named.len() > SEGMENTS_SCANNED_MAX {
            return Err(Error::TooLarge {
                what: "segment count",
                bytes: named.len() as u64,
                max: SEGMENTS_SCANNED_MAX as u64,
            });
        }
    }
    Ok(named)
}

/// A last segment shorter than its header (a crash between creating the file and
/// allocating it) or whose header is all zero (a crash before the header's sync) is a
/// creation interrupted by a crash: frames are only written after the header is durable,
/// so nothing was ever written to it. Anything else is an error, never a removal.
fn unfinished_creation(err: &Error, len: u64) -> bool {
    use crate::format::segment_header::HeaderFault;
    len < SEGMENT_HEADER_LEN as u64
        || matches!(
            err,
            Error::Corrupted(Corruption {
                kind: CorruptionKind::SegmentHeader(HeaderFault::Unwritten),
                ..
            })
        )
}

enum ScanEnd {
    /// Every segment is full of valid frames; appends continue at this LSN.
    Full(u64),
    /// The first invalid frame.
    Invalid {
        pos: u64,
        fault: FrameFault,
        claim: u64,
    },
}

/// Replays valid frames in order from `from` until the first invalid one.
fn scan(
    segments: &[Arc<Segment>],
    from: u64,
    loaded: &summaries::Loaded,
    state: &mut State,
    report: &mut RecoveryReport,
) -> Result<ScanEnd> {
    let mut claim = 0u64;
    let mut scratch = Vec::new();
    let mut folds = replay::Folds::default();
    let mut end = segments.first().map_or(0, |s| s.base()).max(from);
    for seg in segments.iter().filter(|s| s.end() > from) {
        if let Some(folded) = summaries::try_fold(loaded, seg, from, &mut folds, state, report)? {
            (claim, end) = (claim.max(folded), seg.end());
            continue;
        }
        let mut pos = seg.base().max(from);
        while seg.end() - pos >= FRAME_HEADER_LEN as u64 {
            let at = seg.word_at(pos);
            let room = usize::try_from(seg.end() - pos).unwrap_or(usize::MAX);
            let header = match replay::frame(seg.data(), at, pos, room, &mut folds) {
                Ok(h) => h,
                Err(fault) => {
                    folds.commit(state);
                    return Ok(ScanEnd::Invalid { pos, fault, claim });
                }
            };
            claim = claim.max(header.durable_claim(pos));
            report.frames_scanned += 1;
            match header.kind {
                FrameKind::Padding => {}
                FrameKind::Entries => {
                    report.entries_replayed += u64::from(header.len) / ENTRY_LEN as u64;
                }
                FrameKind::Checkpoint | FrameKind::Meta => {
                    folds.commit(state);
                    region::read_bytes(seg.data(), at, &header, &mut scratch);
                    replay::record(seg, pos, header.kind, &scratch, state, report)?;
                }
            }
            pos += header.frame_len() as u64;
        }
        end = seg.end();
    }
    folds.commit(state);
    report.durable_claim = Lsn(claim);
    Ok(ScanEnd::Full(end))
}

fn corrupt(path: &Path, lsn: u64, offset: u64, kind: CorruptionKind) -> Error {
    Error::Corrupted(Corruption {
        path: path.to_owned(),
        lsn: Lsn(lsn),
        offset,
        kind,
    })
}
