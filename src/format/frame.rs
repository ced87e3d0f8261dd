//! Frame layout: a 16-byte header and an 8-byte-aligned payload, checksummed and bound
//! to the frame's LSN.
//!
//! | offset | size | type   | field        | meaning                                            |
//! |-------:|-----:|--------|--------------|----------------------------------------------------|
//! | 0      | 4    | u32 LE | len          | payload length in bytes, before padding to 8       |
//! | 4      | 1    | u8     | kind         | 1 entries, 2 checkpoint, 3 padding, 4 meta (v2+)   |
//! | 5      | 1    | u8     | flags        | 0 in format versions 1 and 2                       |
//! | 6      | 2    | u16 LE | reserved     | 0                                                  |
//! | 8      | 4    | u32 LE | crc          | CRC32C, see below                                  |
//! | 12     | 4    | u32 LE | `durable_back` | the writer's durable frontier, `(lsn - durable)/8` |
//! | 16     | len↑8| bytes  | payload      | zero-padded to a multiple of 8                     |
//!
//! Bytes 0..8 are the *publication word*: written last, with release ordering, so a
//! reader that sees it non-zero (acquire) sees the whole frame. The checksum is
//! `crc32c(lsn ‖ word0 ‖ durable_back as u64 ‖ payload words)`, all little-endian
//! `u64`s; a padding frame's checksum covers no payload. A zero publication word is an
//! unwritten frame.

use crate::entry::ENTRY_LEN;
use crate::format::crc;
use crate::format::limits::{BATCH_ENTRIES_MAX, FRAME_PAYLOAD_MAX_BYTES, META_RECORD_BYTES_MAX};

/// Header length in bytes.
pub const FRAME_HEADER_LEN: usize = 16;
/// Header length in 64-bit words.
pub const FRAME_HEADER_WORDS: usize = FRAME_HEADER_LEN / 8;
/// Frames start at multiples of this.
pub const FRAME_ALIGN: usize = 8;

const LEN_OFFSET: usize = 0;
const KIND_OFFSET: usize = LEN_OFFSET + size_of::<u32>();
const FLAGS_OFFSET: usize = KIND_OFFSET + size_of::<u8>();
const RESERVED_OFFSET: usize = FLAGS_OFFSET + size_of::<u8>();
const CRC_OFFSET: usize = RESERVED_OFFSET + size_of::<u16>();
const BACK_OFFSET: usize = CRC_OFFSET + size_of::<u32>();
const PAYLOAD_OFFSET: usize = BACK_OFFSET + size_of::<u32>();

const _: () = assert!(PAYLOAD_OFFSET == FRAME_HEADER_LEN);
const _: () = assert!(CRC_OFFSET == 8);
const _: () = assert!(FRAME_HEADER_LEN.is_multiple_of(FRAME_ALIGN));
const _: () = assert!(ENTRY_LEN.is_multiple_of(FRAME_ALIGN));

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// 1..=`BATCH_ENTRIES_MAX` entries of 24 bytes.
    Entries = 1,
    /// One postcard-encoded checkpoint record.
    Checkpoint = 2,
    /// Fills the end of a segment; the reader continues in the next segment.
    Padding = 3,
    /// One postcard-encoded `MetaRecord` (checkpoint coordination: source and sink
    /// registry, progress, consumer cursors). Format version 2 and later only.
    Meta = 4,
}

impl FrameKind {
    /// The first format version whose segments may hold frames of this kind.
    #[must_use]
    pub fn since_version(self) -> u32 {
        match self {
            FrameKind::Entries | FrameKind::Checkpoint | FrameKind::Padding => 1,
            FrameKind::Meta => 2,
        }
    }
}

impl TryFrom<u8> for FrameKind {
    type Error = u8;
    fn try_from(byte: u8) -> Result<FrameKind, u8> {
        match byte {
            1 => Ok(FrameKind::Entries),
            2 => Ok(FrameKind::Checkpoint),
            3 => Ok(FrameKind::Padding),
            4 => Ok(FrameKind::Meta),
            other => Err(other),
        }
    }
}

impl From<FrameKind> for u8 {
    fn from(kind: FrameKind) -> u8 {
        kind as u8
    }
}

/// A decoded, checksum-verified frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length before padding.
    pub len: u32,
    /// Frame kind.
    pub kind: FrameKind,
    /// `(lsn - durable) / 8` as the writer knew it, saturated.
    pub durable_back: u32,
}

/// Why the bytes at a position are not a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameFault {
    /// The publication word is zero: nothing was ever published here.
    Unwritten,
    /// The length is impossible for the kind, or the frame runs past the segment.
    BadLength,
    /// The kind byte names no frame kind this version knows.
    UnknownKind,
    /// Flags or reserved bits are set that this version does not define.
    UnknownFlags,
    /// The checksum does not match (torn write, bit rot, or a stale frame for another LSN).
    ChecksumMismatch,
}

impl FrameHeader {
    /// Total bytes the frame occupies, header and padded payload.
    #[must_use]
    pub fn frame_len(&self) -> usize {
        frame_len(self.len as usize)
    }

    /// The LSN below which the writer knew every frame to be durable.
    #[must_use]
    pub fn durable_claim(&self, lsn: u64) -> u64 {
        lsn.saturating_sub(u64::from(self.durable_back) * FRAME_ALIGN as u64)
    }
}

/// Header plus payload rounded up to [`FRAME_ALIGN`].
#[must_use]
pub const fn frame_len(payload_len: usize) -> usize {
    FRAME_HEADER_LEN + payload_len.next_multiple_of(FRAME_ALIGN)
}

// Format: word0 = { len u32 | kind u8 | flags u8 | reserved u16 }
/// The publication word for a frame.
#[must_use]
#[inline]
pub fn word0(len: u32, kind: FrameKind) -> u64 {
    u64::from(len) | u64::from(u8::from(kind)) << 32
}

// Format: word1 = { crc u32 | durable_back u32 }
/// The second header word.
#[must_use]
#[inline]
pub fn word1(crc: u32, durable_back: u32) -> u64 {
    u64::from(crc) | u64::from(durable_back) << 32
}

/// `(lsn - durable) / 8`, saturated: the weaker claim is still a true one.
#[must_use]
#[inline]
pub fn durable_back(lsn: u64, durable: u64) -> u32 {
    debug_assert!(durable <= lsn);
    u32::try_from(lsn.saturating_sub(durable) / FRAME_ALIGN as u64).unwrap_or(u32::MAX)
}

/// Checks the fields of a header word pair and the frame's extent; not the checksum.
///
/// `room` is the number of bytes from the frame's start to the end of its segment.
///
/// # Errors
/// The first [`FrameFault`] found.
#[expect(
    clippy::cast_possible_truncation,
    reason = "fields are masked out of their word"
)]
pub fn check_fields(w0: u64, w1: u64, room: usize) -> Result<FrameHeader, FrameFault> {
    if w0 == 0 {
        return Err(FrameFault::Unwritten);
    }
    let len = w0 as u32;
    let kind = FrameKind::try_from((w0 >> 32) as u8).map_err(|_| FrameFault::UnknownKind)?;
    if w0 >> 40 != 0 {
        return Err(FrameFault::UnknownFlags);
    }
    let header = FrameHeader {
        len,
        kind,
        durable_back: (w1 >> 32) as u32,
    };
    let fits = room >= FRAME_HEADER_LEN && (len as usize) <= room - FRAME_HEADER_LEN;
    let len_ok = match kind {
        FrameKind::Entries => {
            (len as usize).is_multiple_of(ENTRY_LEN)
                && len != 0
                && len as usize <= BATCH_ENTRIES_MAX * ENTRY_LEN
        }
        FrameKind::Checkpoint => len != 0 && len as usize <= FRAME_PAYLOAD_MAX_BYTES,
        FrameKind::Meta => len != 0 && len as usize <= META_RECORD_BYTES_MAX,
        FrameKind::Padding => (len as usize).is_multiple_of(FRAME_ALIGN),
    };
    if !fits || !len_ok || header.frame_len() > room {
        return Err(FrameFault::BadLength);
    }
    Ok(header)
}

/// The checksum stored in a header's second word.
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    reason = "the crc is the low half of word1"
)]
pub fn stored_crc(w1: u64) -> u32 {
    w1 as u32
}

/// Validates a frame held as plain bytes (files read without a mapping, fuzz targets).
///
/// `bytes` starts at the frame and runs to the end of its segment.
///
/// # Errors
/// The first [`FrameFault`] found.
pub fn validate_bytes(lsn: u64, bytes: &[u8]) -> Result<FrameHeader, FrameFault> {
    let w0 = le_word(bytes, 0).ok_or(FrameFault::BadLength)?;
    let w1 = le_word(bytes, 1).unwrap_or(0);
    let header = check_fields(w0, w1, bytes.len())?;
    let words = if header.kind == FrameKind::Padding {
        0
    } else {
        header.frame_len() / 8 - 2
    };
    let mut payload = Vec::with_capacity(words);
    for i in 0..words {
        payload.push(le_word(bytes, FRAME_HEADER_WORDS + i).ok_or(FrameFault::BadLength)?);
    }
    if crc::frame_crc(lsn, w0, header.durable_back, &payload) != stored_crc(w1) {
        return Err(FrameFault::ChecksumMismatch);
    }
    Ok(header)
}

/// The `index`-th little-endian word of `bytes`, if it is there.
#[must_use]
pub fn le_word(bytes: &[u8], index: usize) -> Option<u64> {
    let start = index.checked_mul(8)?;
    let chunk = bytes.get(start..start.checked_add(8)?)?;
    let mut b = [0u8; 8];
    b.copy_from_slice(chunk);
    Some(u64::from_le_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(lsn: u64, kind: FrameKind, payload: &[u64], len: u32, back: u32) -> Vec<u8> {
        let w0 = word0(len, kind);
        let crc = crc::frame_crc(lsn, w0, back, payload);
        let mut out = Vec::new();
        out.extend_from_slice(&w0.to_le_bytes());
        out.extend_from_slice(&word1(crc, back).to_le_bytes());
        for w in payload {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    #[test]
    fn a_frame_validates_only_at_its_own_lsn() {
        let bytes = encode(4096, FrameKind::Entries, &[1, 2, 3], 24, 5);
        let h = validate_bytes(4096, &bytes).unwrap();
        assert_eq!(
            h,
            FrameHeader {
                len: 24,
                kind: FrameKind::Entries,
                durable_back: 5
            }
        );
        assert_eq!(h.frame_len(), 40);
        assert_eq!(h.durable_claim(4096), 4096 - 40);
        assert_eq!(
            validate_bytes(4104, &bytes),
            Err(FrameFault::ChecksumMismatch)
        );
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = encode(64, FrameKind::Entries, &[7, 8, 9], 24, 0);
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(validate_bytes(64, &b).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn hostile_lengths_are_faults_not_panics() {
        let w0 = u64::from(u32::MAX) | 1 << 32;
        let mut b = w0.to_le_bytes().to_vec();
        b.extend_from_slice(&[0; 40]);
        assert_eq!(validate_bytes(0, &b), Err(FrameFault::BadLength));
        assert_eq!(validate_bytes(0, &[0u8; 16]), Err(FrameFault::Unwritten));
        assert_eq!(validate_bytes(0, &[1u8; 3]), Err(FrameFault::BadLength));
        let odd = encode(0, FrameKind::Entries, &[1, 2], 16, 0);
        assert_eq!(validate_bytes(0, &odd), Err(FrameFault::BadLength));
        let kind9 = (1u64 | 9 << 32).to_le_bytes();
        assert_eq!(
            validate_bytes(0, &[kind9, [0; 8]].concat()),
            Err(FrameFault::UnknownKind)
        );
        let flags = (8u64 | 3 << 32 | 1 << 40).to_le_bytes();
        assert_eq!(
            validate_bytes(0, &[flags, [0; 8]].concat()),
            Err(FrameFault::UnknownFlags)
        );
    }

    #[test]
    fn durable_back_saturates_to_a_weaker_true_claim() {
        assert_eq!(durable_back(80, 40), 5);
        assert_eq!(durable_back(u64::MAX, 0), u32::MAX);
    }
}
