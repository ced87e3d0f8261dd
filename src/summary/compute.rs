//! Computing a sealed segment's summary: every frame from its base to its end is
//! validated (LSN-bound checksum), its entries folded per source exactly as
//! `State::apply_entries` folds them, and its checkpoint and meta frames located.
//!
//! A segment that does not validate to its end is not summarized: it is not sealed, or
//! it is damaged, and then the scan at open (and `cpj verify`) must see it.

use std::collections::BTreeMap;

use crate::entry::{Entry, Op};
use crate::format::frame::{FrameKind, FRAME_HEADER_LEN};
use crate::format::limits::SUMMARY_RECORDS_MAX;
use crate::format::segment_summary::{RecordLocation, SegmentSummary, SourceSummary};
use crate::region;
use crate::segment::Segment;

/// Why a segment was not summarized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NotSummarized {
    /// A frame at this LSN does not validate (the segment is not sealed, or damaged).
    Invalid(u64),
    /// More checkpoint and meta frames than a summary may locate.
    TooLarge(usize),
}

/// The summary of `seg`, whose data area must be durable and sealed.
///
/// # Errors
/// [`NotSummarized`]: nothing is written for such a segment.
pub(crate) fn compute(seg: &Segment) -> Result<SegmentSummary, NotSummarized> {
    let mut out = SegmentSummary {
        journal_id: seg.header.journal_id,
        base_lsn: seg.base(),
        end_lsn: seg.end(),
        segment_size_bytes: seg.header.segment_size_bytes,
        segment_created_at_ms: seg.header.created_at_ms,
        ..SegmentSummary::default()
    };
    let mut sources = Sources::default();
    let mut entries = Vec::new();
    let mut pos = seg.base();
    while seg.end() - pos >= FRAME_HEADER_LEN as u64 {
        let at = seg.word_at(pos);
        let room = usize::try_from(seg.end() - pos).unwrap_or(usize::MAX);
        let header = region::read_header(seg.data(), at, pos, room)
            .map_err(|_| NotSummarized::Invalid(pos))?;
        out.durable_claim = out.durable_claim.max(header.durable_claim(pos));
        out.frames += 1;
        match header.kind {
            FrameKind::Padding => {}
            FrameKind::Entries => {
                entries.clear();
                region::read_entries(seg.data(), at, &header, &mut entries);
                sources.fold(&entries);
                out.entries += entries.len() as u64;
            }
            FrameKind::Checkpoint | FrameKind::Meta => {
                if out.records.len() == SUMMARY_RECORDS_MAX {
                    return Err(NotSummarized::TooLarge(SUMMARY_RECORDS_MAX + 1));
                }
                out.records.push(RecordLocation {
                    lsn: pos,
                    len: header.len,
                    kind: header.kind,
                });
            }
        }
        pos += header.frame_len() as u64;
    }
    debug_assert!(pos <= seg.end());
    out.sources = sources.into_rows();
    debug_assert_eq!(
        out.sources.iter().map(|s| s.entries).sum::<u64>(),
        out.entries
    );
    Ok(out)
}

/// Direct-mapped slots (by the low byte of `source_id`) in front of the row map, so a
/// segment of entries interleaving up to this many sources folds without a map lookup
/// per entry.
const SLOTS: usize = 256;

/// Per-source rows being folded.
struct Sources {
    slots: Vec<Option<SourceSummary>>,
    /// Rows evicted from a slot by another source with the same low byte.
    rows: BTreeMap<u16, SourceSummary>,
}

impl Default for Sources {
    fn default() -> Sources {
        Sources {
            slots: vec![None; SLOTS],
            rows: BTreeMap::new(),
        }
    }
}

impl Sources {
    fn fold(&mut self, entries: &[Entry]) {
        for e in entries {
            let Some(slot) = self.slots.get_mut(usize::from(e.source_id) % SLOTS) else {
                continue;
            };
            match slot {
                Some(row) if row.source_id == e.source_id => fold_one(row, e),
                _ => {
                    if let Some(evicted) = slot.take() {
                        self.rows.insert(evicted.source_id, evicted);
                    }
                    let mut row = self.rows.remove(&e.source_id).unwrap_or(SourceSummary {
                        source_id: e.source_id,
                        entries: 0,
                        sequences: None,
                        last_barrier: None,
                        min_watermark: i64::MAX,
                        max_watermark: i64::MIN,
                        last_watermark: 0,
                    });
                    fold_one(&mut row, e);
                    *slot = Some(row);
                }
            }
        }
    }

    /// Every row, in increasing `source_id`.
    fn into_rows(mut self) -> Vec<SourceSummary> {
        for row in self.slots.into_iter().flatten() {
            self.rows.insert(row.source_id, row);
        }
        self.rows.into_values().collect()
    }
}

/// Folds one entry into its source's row, as `state::apply_one` folds it into a
/// `SourceState` (the sequence of push and barrier entries; watermarks of every entry).
fn fold_one(row: &mut SourceSummary, e: &Entry) {
    match e.op() {
        Ok(Op::Push) => row.sequences = Some(extend(row.sequences, e.sequence)),
        Ok(Op::Barrier) => {
            row.sequences = Some(extend(row.sequences, e.sequence));
            row.last_barrier = Some(e.sequence);
        }
        Ok(Op::Watermark) | Err(_) => {}
    }
    row.min_watermark = row.min_watermark.min(e.watermark);
    row.max_watermark = row.max_watermark.max(e.watermark);
    row.last_watermark = e.watermark;
    row.entries += 1;
}

fn extend(sequences: Option<(u64, u64)>, sequence: u64) -> (u64, u64) {
    (sequences.map_or(sequence, |(first, _)| first), sequence)
}
