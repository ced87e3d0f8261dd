//! Replay of the frames that carry a record (checkpoints, and the meta frames of
//! format version 2) into the recovered `State`. A record whose checksum holds but
//! whose bytes do not decode is corruption of acknowledged data, named by file, LSN and
//! offset.

use crate::error::Result;
use crate::format::frame::FrameKind;
use crate::lsn::Lsn;
use crate::reader::{decode_checkpoint, decode_meta, Frame};
use crate::segment::Segment;
use crate::state::State;

use super::RecoveryReport;

/// Folds the record frame of `kind` at `pos` in `seg`, whose payload is `payload`.
pub(super) fn record(
    seg: &Segment,
    pos: u64,
    kind: FrameKind,
    payload: &[u8],
    state: &mut State,
    report: &mut RecoveryReport,
) -> Result<()> {
    debug_assert!(seg.contains(pos));
    debug_assert!(matches!(kind, FrameKind::Checkpoint | FrameKind::Meta));
    let frame = if kind == FrameKind::Meta {
        decode_meta(seg, Lsn(pos), payload)?
    } else {
        decode_checkpoint(seg, Lsn(pos), payload)?
    };
    match frame {
        Frame::Meta { lsn, record } => state.apply_meta(lsn, record),
        Frame::Checkpoint { lsn, record } => {
            state.apply_checkpoint(lsn, record);
            report.checkpoints_replayed += 1;
        }
        Frame::Entries { .. } => {}
    }
    Ok(())
}
