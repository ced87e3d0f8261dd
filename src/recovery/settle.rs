//! What open does at the first invalid frame when no clean-shutdown claim settles it:
//! the evidence after it (valid frames, non-zero bytes), the decision table's action,
//! and the truncation.

use super::table::{action, classify, Action, Evidence};
use super::{corrupt, recycled, Ctx, Dropped, RecoveryCase, RecoveryReport};
use crate::error::{CorruptionKind, Error, Result};
use crate::format::frame::{FrameFault, FRAME_HEADER_LEN};
use crate::lsn::Lsn;
use crate::region;
use crate::segment::Segment;
use crate::storage::Words;
use crate::sync::{Arc, Ordering};

use super::next_non_zero;

/// Gathers evidence after the first invalid frame, applies the decision table, and
/// truncates if it says so. Returns the LSN where appends continue.
pub(super) fn settle(
    ctx: &Ctx<'_>,
    segments: &[Arc<Segment>],
    pos: u64,
    fault: FrameFault,
    claim: u64,
    report: &mut RecoveryReport,
) -> Result<u64> {
    let look = look_ahead(segments, pos);
    let claim = claim.max(look.claim);
    report.durable_claim = Lsn(claim);
    let seg = segments
        .iter()
        .find(|s| s.contains(pos))
        .ok_or(Error::InvalidLsn {
            lsn: Lsn(pos),
            first: report.first_lsn,
            end: Lsn(pos),
        })?;
    let evidence = Evidence {
        below: pos < claim,
        valid_after: look.valid_frames > 0,
        zero_after: look.zero,
        stale: recycled::stale_at(seg, pos),
    };
    let case = classify(evidence);
    report.case = Some(case);
    match action(case, ctx.mode) {
        Action::Accept => Ok(pos),
        Action::Fail if case == RecoveryCase::DurableDamage => Err(corrupt(
            &seg.path,
            pos,
            seg.file_offset(pos),
            CorruptionKind::Frame(fault),
        )),
        Action::Fail => Err(Error::TornTail {
            path: seg.path.clone(),
            lsn: Lsn(pos),
        }),
        Action::Truncate => {
            report.dropped = (case != RecoveryCase::StaleEnd).then(|| Dropped {
                from: Lsn(pos),
                to: Lsn(look.last_valid_end.max(pos)),
                valid_frames: look.valid_frames,
                fault: format!("{fault:?}"),
            });
            report.torn_bytes = truncate(segments, pos, ctx.apply)?;
            Ok(pos)
        }
    }
}

struct LookAhead {
    claim: u64,
    valid_frames: u64,
    last_valid_end: u64,
    zero: bool,
}

/// Scans every 8-byte position after `pos` for valid frames (their checksums are bound
/// to their LSN, so a match is a frame written there) and for non-zero bytes.
///
/// A header is only tried where the publication word is non-zero (`read_header` finds
/// nothing at a zero word), so the unwritten rest of a segment costs one load per word.
fn look_ahead(segments: &[Arc<Segment>], pos: u64) -> LookAhead {
    let mut out = LookAhead {
        claim: 0,
        valid_frames: 0,
        last_valid_end: pos,
        zero: true,
    };
    for seg in segments.iter().filter(|s| s.end() > pos) {
        let data = seg.data();
        let mut i = seg.word_at(pos.max(seg.base()));
        while let Some(found) = next_non_zero(data, i) {
            out.zero = false;
            let q = seg.base() + found as u64 * 8;
            let room = usize::try_from(seg.end() - q).unwrap_or(usize::MAX);
            i = found + 1;
            if q > pos && room >= FRAME_HEADER_LEN {
                if let Ok(h) = region::read_header(data, found, q, room) {
                    out.claim = out.claim.max(h.durable_claim(q));
                    out.valid_frames += 1;
                    out.last_valid_end = q + h.frame_len() as u64;
                    i = found + h.frame_len() / 8;
                }
            }
        }
    }
    out
}

/// Zeroes every non-zero word from `pos` to the end of the last segment and makes the
/// zeroing durable; returns the bytes zeroed (with `apply` false, only counts them).
fn truncate(segments: &[Arc<Segment>], pos: u64, apply: bool) -> Result<u64> {
    let mut zeroed = 0u64;
    for seg in segments.iter().filter(|s| s.end() > pos) {
        let from = pos.max(seg.base());
        let data = seg.data();
        let mut touched = false;
        let mut i = seg.word_at(from);
        while let Some(found) = next_non_zero(data, i) {
            if apply {
                data.store(found, 0, Ordering::Relaxed);
            }
            zeroed += 8;
            touched = apply;
            i = found + 1;
        }
        if touched {
            seg.sync(from, seg.end())?;
        }
    }
    Ok(zeroed)
}
