//! The read side of the frame protocol: find where a published frame ends, validate a
//! frame (fields, extent, LSN-bound checksum) after an acquire load of its publication
//! word, and copy out its entries or bytes. Generic over [`Words`] like the write side.

use crate::entry::{Entry, ENTRY_WORDS};
use crate::format::crc;
use crate::format::frame::{self, FrameFault, FrameHeader, FrameKind, FRAME_HEADER_WORDS};
use crate::storage::Words;
use crate::sync::Ordering;

/// Length of the frame published at `word_at`, or `None` if nothing is published there
/// yet. Trusts the header (for the flusher and the published frontier, which only walk
/// frames this process wrote or already validated).
#[inline]
pub fn published_len<W: Words + ?Sized>(mem: &W, word_at: usize) -> Option<usize> {
    // Acquire: pairs with the release store in `publish`.
    let w0 = u64::from_le(mem.load(word_at, Ordering::Acquire)?);
    if w0 == 0 {
        return None;
    }
    let len = usize::try_from(w0 & u64::from(u32::MAX)).ok()?;
    Some(frame::frame_len(len))
}

/// Reads and fully validates the frame at `word_at` (LSN-bound checksum included).
///
/// `room` is the bytes from the frame to the end of the segment's data area.
///
/// # Errors
/// The [`FrameFault`].
pub fn read_header<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    lsn: u64,
    room: usize,
) -> Result<FrameHeader, FrameFault> {
    // Acquire: pairs with the release store in `publish`.
    let w0 = u64::from_le(
        mem.load(word_at, Ordering::Acquire)
            .ok_or(FrameFault::BadLength)?,
    );
    let w1 = u64::from_le(mem.load(word_at + 1, Ordering::Relaxed).unwrap_or(0));
    let header = frame::check_fields(w0, w1, room)?;
    check_payload(mem, word_at, lsn, (w0, w1), &header)?;
    Ok(header)
}

/// The header words at `word_at` and the fields they pass [`frame::check_fields`] with.
#[inline]
fn load_fields<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    room: usize,
) -> Result<(u64, u64, FrameHeader), FrameFault> {
    // Acquire: pairs with the release store in `publish`.
    let w0 = u64::from_le(
        mem.load(word_at, Ordering::Acquire)
            .ok_or(FrameFault::BadLength)?,
    );
    let w1 = u64::from_le(mem.load(word_at + 1, Ordering::Relaxed).unwrap_or(0));
    let header = frame::check_fields(w0, w1, room)?;
    Ok((w0, w1, header))
}

/// Checks the payload of the frame at `word_at` (header words `words`, fields `header`)
/// against its stored checksum.
#[inline(always)]
#[expect(
    clippy::inline_always,
    reason = "with two callers LLVM keeps it out of line: +29 instructions per single-entry frame in recovery (callgrind)"
)]
fn check_payload<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    lsn: u64,
    (w0, w1): (u64, u64),
    header: &FrameHeader,
) -> Result<(), FrameFault> {
    let payload_words = match header.kind {
        FrameKind::Padding => 0,
        _ => header.frame_len() / 8 - FRAME_HEADER_WORDS,
    };
    let start = word_at + FRAME_HEADER_WORDS;
    if payload_crc(mem, lsn, w0, header.durable_back, start, payload_words) != frame::stored_crc(w1)
    {
        return Err(FrameFault::ChecksumMismatch);
    }
    Ok(())
}

/// Entry frames shorter than this are read in two passes (validate, then copy): for a
/// frame of one entry that is fewer instructions than growing `out` first.
const ONE_PASS_MIN_ENTRIES: usize = 4;

/// [`read_header`] that, for an entry frame of at least [`ONE_PASS_MIN_ENTRIES`] entries
/// on a little-endian host, also copies its
/// entries to the end of `out` in the same pass: the payload is loaded once, into `out`,
/// and checksummed there (other frames: `out` is left as it was, read them as after
/// [`read_header`]). Returns the header and whether `out` received the entries.
///
/// # Errors
/// The [`FrameFault`]; `out` is then left as it was.
pub fn read_header_and_entries<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    lsn: u64,
    room: usize,
    out: &mut Vec<Entry>,
) -> Result<(FrameHeader, bool), FrameFault> {
    let (w0, w1, header) = load_fields(mem, word_at, room)?;
    let count = header.len as usize / crate::entry::ENTRY_LEN;
    if header.kind != FrameKind::Entries
        || count < ONE_PASS_MIN_ENTRIES
        || !cfg!(target_endian = "little")
    {
        check_payload(mem, word_at, lsn, (w0, w1), &header)?;
        return Ok((header, false));
    }
    let old = out.len();
    out.reserve_exact(count);
    out.resize(old + count, Entry::default());
    let loaded = out.get_mut(old..).is_some_and(|dst| {
        mem.load_run(
            word_at + FRAME_HEADER_WORDS,
            bytemuck::cast_slice_mut(dst),
            Ordering::Relaxed,
        )
    });
    // On a little-endian host the entries' memory is the payload words as stored.
    let crc = out
        .get(old..)
        .filter(|_| loaded)
        .map(|dst| crc::frame_crc(lsn, w0, header.durable_back, bytemuck::cast_slice(dst)));
    if crc != Some(frame::stored_crc(w1)) {
        out.truncate(old);
        return Err(FrameFault::ChecksumMismatch);
    }
    Ok((header, true))
}

/// Payloads of at most this many words are loaded into a small buffer and checksummed
/// in one call.
const SHORT_PAYLOAD_WORDS: usize = 16;
/// Words of payload checksummed per piece by [`payload_crc`] (a 4 KiB stack buffer).
const CRC_PIECE_WORDS: usize = 512;

/// The checksum of the frame at `start - FRAME_HEADER_WORDS` whose payload is the
/// `count` words from `start`, loaded into a buffer (in pieces for long payloads, which
/// the crate checksums) and checksummed from there.
#[inline(always)]
#[expect(
    clippy::inline_always,
    reason = "kept inline into check_payload's callers, as before it had two (callgrind)"
)]
fn payload_crc<W: Words + ?Sized>(
    mem: &W,
    lsn: u64,
    w0: u64,
    back: u32,
    start: usize,
    count: usize,
) -> u32 {
    if count <= SHORT_PAYLOAD_WORDS {
        let mut buf = [0u64; SHORT_PAYLOAD_WORDS];
        let piece = buf.get_mut(..count).unwrap_or_default();
        if mem.load_run(start, piece, Ordering::Relaxed) {
            for w in piece.iter_mut() {
                *w = u64::from_le(*w);
            }
            return crc::frame_crc(lsn, w0, back, piece);
        }
    } else {
        let mut buf = [0u64; CRC_PIECE_WORDS];
        let mut crc = crc::frame_crc_head(lsn, w0, back);
        let mut at = start;
        while at < start + count {
            let piece = buf
                .get_mut(..CRC_PIECE_WORDS.min(start + count - at))
                .unwrap_or_default();
            if !mem.load_run(at, piece, Ordering::Relaxed) {
                break;
            }
            for w in piece.iter_mut() {
                *w = u64::from_le(*w);
            }
            crc = crc::crc_append_words(crc, piece);
            at += piece.len();
        }
        if at == start + count {
            return crc;
        }
    }
    let words =
        (start..start + count).map(|i| u64::from_le(mem.load(i, Ordering::Relaxed).unwrap_or(0)));
    crc::frame_crc_iter(lsn, w0, back, words)
}

/// Copies the entries of a validated entry frame at `word_at` into `out`.
pub fn read_entries<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    header: &FrameHeader,
    out: &mut Vec<Entry>,
) {
    debug_assert_eq!(header.kind, FrameKind::Entries);
    let count = header.len as usize / crate::entry::ENTRY_LEN;
    let old = out.len();
    let start = word_at + FRAME_HEADER_WORDS;
    if count == 1 {
        // The single-entry frame: three loads and one push, nothing to resize.
        let mut w = [0u64; ENTRY_WORDS];
        if mem.load_run(start, &mut w, Ordering::Relaxed) {
            out.push(Entry::from_words(w.map(u64::from_le)));
            return;
        }
    }
    if cfg!(target_endian = "little") {
        // On a little-endian host an entry's memory is its on-disk words (see
        // `write_entries`): load the run straight into the entries.
        out.resize(old + count, Entry::default());
        let dst: &mut [u64] = bytemuck::cast_slice_mut(out.get_mut(old..).unwrap_or_default());
        if mem.load_run(start, dst, Ordering::Relaxed) {
            return;
        }
        out.truncate(old);
    }
    out.reserve(count);
    let mut at = start;
    for _ in 0..count {
        let mut w = [0u64; ENTRY_WORDS];
        for slot in &mut w {
            *slot = u64::from_le(mem.load(at, Ordering::Relaxed).unwrap_or(0));
            at += 1;
        }
        out.push(Entry::from_words(w));
    }
}

/// Copies the payload bytes of a validated frame at `word_at` into `out`.
pub fn read_bytes<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    header: &FrameHeader,
    out: &mut Vec<u8>,
) {
    let len = header.len as usize;
    out.clear();
    out.reserve(len.next_multiple_of(8));
    let start = word_at + FRAME_HEADER_WORDS;
    for i in start..start + len.div_ceil(8) {
        out.extend_from_slice(
            &u64::from_le(mem.load(i, Ordering::Relaxed).unwrap_or(0)).to_le_bytes(),
        );
    }
    out.truncate(len);
}
