//! Replay of the scanned frames into the recovered `State`: entry frames validated and
//! folded in one pass over their payload, and the frames that carry a record
//! (checkpoints, and the meta frames of format version 2). A record whose checksum holds but
//! whose bytes do not decode is corruption of acknowledged data, named by file, LSN and
//! offset.

use crate::entry::{Entry, ENTRY_LEN, ENTRY_WORDS};
use crate::error::Result;
use crate::format::crc;
use crate::format::frame::{self, FrameFault, FrameHeader, FrameKind, FRAME_HEADER_WORDS};
use crate::lsn::Lsn;
use crate::reader::{decode_checkpoint, decode_meta, Frame};
use crate::region;
use crate::segment::Segment;
use crate::state::{Fold, State};
use crate::storage::Words;
use crate::sync::Ordering;

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

/// Entries per piece of an entry frame's payload: loaded into a stack buffer (4 080
/// bytes), checksummed and folded there, so the payload is read from the mapping once.
const PIECE_ENTRIES: usize = 170;
const PIECE_WORDS: usize = PIECE_ENTRIES * ENTRY_WORDS;

/// The entry folds of a scan: `done` holds the entries of validated frames, `frame`
/// those of a frame of more than one piece whose checksum is still being computed.
#[derive(Debug, Default)]
pub(super) struct Folds {
    done: Fold,
    frame: Fold,
    /// The piece buffer, allocated once per scan (not a stack array: zeroing 4 KiB per
    /// frame would cost more than a single-entry frame's whole check).
    buf: Vec<u64>,
}

impl Folds {
    /// Merges the entries of every validated frame into `state`.
    pub(super) fn commit(&mut self, state: &mut State) {
        self.done.commit(state);
    }
}

/// Reads and fully validates the frame at word `at` (LSN `lsn`, `room` bytes to the end
/// of its segment), as `region::read_header` does. An entry frame's entries are folded
/// into `folds` in the same pass: its payload is loaded once, piece by piece, and each
/// piece is checksummed and folded from the buffer; a frame whose checksum fails leaves
/// `folds` as it was.
///
/// # Errors
/// The [`FrameFault`].
pub(super) fn frame<W: Words + ?Sized>(
    mem: &W,
    at: usize,
    lsn: u64,
    room: usize,
    folds: &mut Folds,
) -> Result<FrameHeader, FrameFault> {
    // Acquire: pairs with the release store in `publish` (as `region::read_header`).
    let w0 = u64::from_le(
        mem.load(at, Ordering::Acquire)
            .ok_or(FrameFault::BadLength)?,
    );
    let w1 = u64::from_le(mem.load(at + 1, Ordering::Relaxed).unwrap_or(0));
    let header = frame::check_fields(w0, w1, room)?;
    if header.kind != FrameKind::Entries || !cfg!(target_endian = "little") {
        let header = region::read_header(mem, at, lsn, room)?;
        if header.kind == FrameKind::Entries {
            let mut entries = Vec::new();
            region::read_entries(mem, at, &header, &mut entries);
            folds.done.add(&entries);
        }
        return Ok(header);
    }
    let words = header.len as usize / ENTRY_LEN * ENTRY_WORDS;
    let start = at + FRAME_HEADER_WORDS;
    if folds.buf.len() != PIECE_WORDS {
        folds.buf = vec![0; PIECE_WORDS];
    }
    let buf = &mut folds.buf;
    if words <= PIECE_WORDS {
        let piece = buf.get_mut(..words).unwrap_or_default();
        if !mem.load_run(start, piece, Ordering::Relaxed) {
            return Err(FrameFault::BadLength);
        }
        if crc::frame_crc(lsn, w0, header.durable_back, piece) != frame::stored_crc(w1) {
            return Err(FrameFault::ChecksumMismatch);
        }
        // On a little-endian host an entry's memory is its three words as stored.
        folds.done.add(as_entries(piece)?);
        return Ok(header);
    }
    let mut crc = crc::frame_crc_head(lsn, w0, header.durable_back);
    let mut next = start;
    while next < start + words {
        let piece = buf
            .get_mut(..PIECE_WORDS.min(start + words - next))
            .unwrap_or_default();
        if !mem.load_run(next, piece, Ordering::Relaxed) {
            folds.frame.clear();
            return Err(FrameFault::BadLength);
        }
        crc = crc::crc_append_words(crc, piece);
        folds.frame.add(as_entries(piece)?);
        next += piece.len();
    }
    if crc != frame::stored_crc(w1) {
        folds.frame.clear();
        return Err(FrameFault::ChecksumMismatch);
    }
    folds.done.absorb(&mut folds.frame);
    Ok(header)
}

/// Payload words as entries (whole entries: every piece is a multiple of three words).
fn as_entries(words: &[u64]) -> Result<&[Entry], FrameFault> {
    bytemuck::try_cast_slice(words).map_err(|_| FrameFault::BadLength)
}
