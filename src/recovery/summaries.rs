//! Open's use of segment summaries (`src/summary.rs`): which sealed segments are folded
//! from their summary instead of being read, what is reported for the others, and the
//! summary files open removes.
//!
//! | summary file of a segment at or after the replay start | outcome |
//! |---|---|
//! | validates and matches the segment header; every checkpoint and meta frame it locates validates at its LSN with its kind and length | fold the summary and those frames; the segment's entries are not read |
//! | a located frame does not validate, or has another kind or length | scan the segment; `Mismatch` |
//! | fails its checksum, or is truncated | scan; `Checksum` |
//! | describes another journal, base, size or creation time | scan; `Mismatch` |
//! | larger than the limits | scan; `TooLarge` |
//! | absent, for a segment that is not the last | scan; `Missing` |
//! | a summary or `.sum.tmp` whose segment does not exist | removed, reported in `summaries_removed` |
//! | a summary of a segment at or after a first invalid frame | removed (before any truncation), reported |
//! | any, in `Strict` or `Salvage` mode | not used: those modes read every frame |
//!
//! The fold reproduces `State::apply_entries` from the per-source rows: the last
//! push-or-barrier sequence replaces the source's sequence, the last barrier its
//! barrier, the watermark is the maximum, and entry counts add up. Entries and record
//! frames fold into disjoint parts of the state, so folding a segment's rows and then
//! its record frames in LSN order equals folding its frames in LSN order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::{Ctx, RecoveryReport};
use crate::error::{Error, Result};
use crate::format::frame::FrameKind;
use crate::format::segment_summary::SegmentSummary;
use crate::lsn::Lsn;
use crate::options::RecoveryMode;
use crate::reader::{decode_checkpoint, decode_meta, Frame};
use crate::region;
use crate::segment::Segment;
use crate::state::{SourceState, State};
use crate::summary::{self, SummaryFallback, SummaryFallbackReason};
use crate::sync::Arc;

/// The summaries open may fold, and which segments have a summary file at all.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    /// Valid summaries that match their segment, by base LSN.
    pub(super) valid: BTreeMap<u64, SegmentSummary>,
    /// Bases of the segments with a summary file (valid or not).
    files: BTreeSet<u64>,
    /// The mode reads every frame: no summary is used, none is reported missing.
    scan_all: bool,
}

impl Loaded {
    /// LSN just past the last segment that may be folded from its summary (0: none):
    /// frames below it may not have been read by this recovery.
    pub(super) fn skipped_to(&self) -> u64 {
        self.valid.values().map(|s| s.end_lsn).max().unwrap_or(0)
    }
}

/// Lists the summary files, removes those of no segment (and temporaries), and
/// validates those of the segments from `from` on.
pub(super) fn load(
    ctx: &Ctx<'_>,
    segments: &[Arc<Segment>],
    from: u64,
    report: &mut RecoveryReport,
) -> Result<Loaded> {
    let listing = summary::list(ctx.storage, ctx.dir)?;
    let bases: BTreeSet<u64> = segments.iter().map(|s| s.base()).collect();
    let mut stale = listing.temps;
    let mut paths = BTreeMap::new();
    for (base, path) in listing.summaries {
        if bases.contains(&base) {
            paths.insert(base, path);
        } else {
            stale.push(path);
        }
    }
    remove_files(ctx, stale, report)?;
    let mut out = Loaded {
        files: paths.keys().copied().collect(),
        ..Loaded::default()
    };
    if ctx.mode != RecoveryMode::TolerateTornTail {
        // Strict refuses any damage and Salvage repairs it: both read every frame.
        out.scan_all = true;
        return Ok(out);
    }
    for seg in segments.iter().filter(|s| s.base() >= from) {
        let Some(path) = paths.get(&seg.base()) else {
            continue;
        };
        match summary::read(ctx.storage, path, seg) {
            Ok(s) => {
                out.valid.insert(seg.base(), s);
            }
            Err((reason, detail)) => fallback(report, seg, reason, detail),
        }
    }
    Ok(out)
}

/// Reports `Missing` for every segment from `from` on, except the last, that has no
/// summary file (after the scan: `segments` are the ones recovery kept).
pub(super) fn report_missing(
    loaded: &Loaded,
    segments: &[Arc<Segment>],
    from: u64,
    report: &mut RecoveryReport,
) {
    if loaded.scan_all {
        return;
    }
    let sealed = segments.len().saturating_sub(1);
    for seg in segments.iter().take(sealed).filter(|s| s.base() >= from) {
        if !loaded.files.contains(&seg.base()) {
            let detail = "no summary file".to_owned();
            fallback(report, seg, SummaryFallbackReason::Missing, detail);
        }
    }
}

/// Removes (before anything is truncated) the summaries of the segments that end after
/// `pos`, the first invalid frame: a truncation or repair may change them.
pub(super) fn invalidate_from(
    ctx: &Ctx<'_>,
    segments: &[Arc<Segment>],
    pos: u64,
    loaded: &Loaded,
    report: &mut RecoveryReport,
) -> Result<()> {
    let doomed = segments
        .iter()
        .filter(|s| s.end() > pos && loaded.files.contains(&s.base()))
        .map(|s| summary::path_for(ctx.dir, s.base()))
        .collect();
    remove_files(ctx, doomed, report)
}

fn remove_files(ctx: &Ctx<'_>, paths: Vec<PathBuf>, report: &mut RecoveryReport) -> Result<()> {
    if ctx.apply && !paths.is_empty() {
        for path in &paths {
            match ctx.storage.remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(path, "remove summary", e));
                }
                _ => {}
            }
        }
        ctx.storage
            .sync_dir(ctx.dir)
            .map_err(|e| Error::io(ctx.dir, "fsync directory", e))?;
    }
    report.summaries_removed.extend(paths);
    Ok(())
}

fn fallback(
    report: &mut RecoveryReport,
    seg: &Segment,
    reason: SummaryFallbackReason,
    detail: String,
) {
    tracing::info!(path = %seg.path.display(), ?reason, %detail, "segment summary not used; scanning the segment");
    report.summary_fallbacks.push(SummaryFallback {
        segment: seg.path.clone(),
        reason,
        detail,
    });
}

/// Folds the summary of `seg`, if it has a valid one and starts at or after `from`, after
/// committing the entries `folds` holds (they come first: a source's last sequence
/// wins). Returns the summary's durable claim, or `None` if the segment must be scanned.
///
/// # Errors
/// As [`fold`].
pub(super) fn try_fold(
    loaded: &Loaded,
    seg: &Segment,
    from: u64,
    folds: &mut super::replay::Folds,
    state: &mut State,
    report: &mut RecoveryReport,
) -> Result<Option<u64>> {
    let Some(sum) = loaded.valid.get(&seg.base()).filter(|_| seg.base() >= from) else {
        return Ok(None);
    };
    folds.commit(state);
    Ok(fold(seg, sum, state, report)?.then_some(sum.durable_claim))
}

/// Folds `sum` and the record frames it locates into `state`; `Ok(false)` (reported as
/// `Mismatch`, nothing folded) if a located frame does not validate as described.
///
/// # Errors
/// A located frame that validates but does not decode: corruption, as the scan reports it.
fn fold(
    seg: &Segment,
    sum: &SegmentSummary,
    state: &mut State,
    report: &mut RecoveryReport,
) -> Result<bool> {
    debug_assert_eq!(sum.base_lsn, seg.base());
    debug_assert_eq!(sum.end_lsn, seg.end());
    let mut frames = Vec::with_capacity(sum.records.len());
    let mut scratch = Vec::new();
    for r in &sum.records {
        let room = usize::try_from(seg.end().saturating_sub(r.lsn)).unwrap_or(0);
        let header = if seg.contains(r.lsn) {
            region::read_header(seg.data(), seg.word_at(r.lsn), r.lsn, room).ok()
        } else {
            None
        };
        let Some(header) = header.filter(|h| h.kind == r.kind && h.len == r.len) else {
            let detail = format!("no {:?} frame of {} bytes at LSN {}", r.kind, r.len, r.lsn);
            fallback(report, seg, SummaryFallbackReason::Mismatch, detail);
            return Ok(false);
        };
        region::read_bytes(seg.data(), seg.word_at(r.lsn), &header, &mut scratch);
        frames.push(match r.kind {
            FrameKind::Meta => decode_meta(seg, Lsn(r.lsn), &scratch)?,
            _ => decode_checkpoint(seg, Lsn(r.lsn), &scratch)?,
        });
    }
    fold_sources(sum, state);
    report.frames_scanned += frames.len() as u64;
    report.entries_replayed += sum.entries;
    for frame in frames {
        match frame {
            Frame::Meta { lsn, record } => state.apply_meta(lsn, record),
            Frame::Checkpoint { lsn, record } => {
                state.apply_checkpoint(lsn, record);
                report.checkpoints_replayed += 1;
            }
            Frame::Entries { .. } => {}
        }
    }
    report.segments_summarized += 1;
    Ok(true)
}

/// The per-source rows folded as `State::apply_entries` folds the entries they sum up.
fn fold_sources(sum: &SegmentSummary, state: &mut State) {
    for row in &sum.sources {
        let s = state.sources.entry(row.source_id).or_insert(SourceState {
            watermark: i64::MIN,
            ..SourceState::default()
        });
        if let Some((_, last)) = row.sequences {
            s.sequence = last;
        }
        if let Some(barrier) = row.last_barrier {
            s.last_barrier = Some(barrier);
        }
        s.watermark = s.watermark.max(row.max_watermark);
        s.entries += row.entries;
    }
    state.entries += sum.entries;
}
