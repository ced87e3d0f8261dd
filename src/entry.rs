//! `Entry`: the 24-byte changelog record, and its `Op`.
//!
//! The in-memory layout is `repr(C)` with no padding, so a slice of entries is a slice
//! of plain bytes (bytemuck) and untrusted bytes parse without copying (zerocopy) on
//! little-endian hosts. On disk the entry is always three little-endian 64-bit words:
//! `{ source_id u16 | op u8 | flags u8 | reserved u32 } { sequence u64 } { watermark i64 }`;
//! [`Entry::to_words`] and [`Entry::from_words`] are the only conversion, and compile to
//! plain moves on little-endian hosts.

use std::fmt;

use bytemuck::{Pod, Zeroable};
use serde::{Deserialize, Serialize};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// What an [`Entry`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Op {
    /// A record was pushed: `sequence` is the source's position, `watermark` its event time.
    Push = 1,
    /// The source's watermark advanced to `watermark`.
    Watermark = 2,
    /// A checkpoint barrier passed the source at `sequence`.
    Barrier = 3,
}

/// An `op` byte that names no [`Op`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownOp(pub u8);

impl fmt::Display for UnknownOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown entry op {} (known: 1 push, 2 watermark, 3 barrier)",
            self.0
        )
    }
}

impl std::error::Error for UnknownOp {}

impl TryFrom<u8> for Op {
    type Error = UnknownOp;
    fn try_from(byte: u8) -> Result<Op, UnknownOp> {
        match byte {
            1 => Ok(Op::Push),
            2 => Ok(Op::Watermark),
            3 => Ok(Op::Barrier),
            other => Err(UnknownOp(other)),
        }
    }
}

impl From<Op> for u8 {
    fn from(op: Op) -> u8 {
        op as u8
    }
}

/// One changelog record: 24 bytes, `repr(C)`, no padding.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    Pod,
    Zeroable,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Serialize,
    Deserialize,
)]
#[repr(C)]
pub struct Entry {
    /// The source (partition, table, connector) this entry belongs to.
    pub source_id: u16,
    /// The raw [`Op`] byte; [`Entry::op`] decodes it.
    pub op: u8,
    /// Caller-defined flags; stored and returned unchanged.
    pub flags: u8,
    /// Zero when written by this crate's constructors; stored and returned unchanged.
    pub reserved: u32,
    /// The source's sequence number (offset, LSN, row id) at this entry.
    pub sequence: u64,
    /// The source's event-time watermark at this entry.
    pub watermark: i64,
}

/// Size of an [`Entry`] in bytes, in memory and on disk.
pub const ENTRY_LEN: usize = 24;
/// Size of an [`Entry`] in 64-bit words.
pub const ENTRY_WORDS: usize = ENTRY_LEN / 8;

const _: () = assert!(size_of::<Entry>() == ENTRY_LEN);
const _: () = assert!(align_of::<Entry>() == 8);
const _: () = assert!(ENTRY_LEN.is_multiple_of(8));

impl Entry {
    /// A [`Op::Push`] entry.
    #[must_use]
    pub const fn push(source_id: u16, sequence: u64, watermark: i64) -> Entry {
        Entry::new(source_id, Op::Push, sequence, watermark)
    }

    /// A [`Op::Watermark`] entry.
    #[must_use]
    pub const fn watermark(source_id: u16, sequence: u64, watermark: i64) -> Entry {
        Entry::new(source_id, Op::Watermark, sequence, watermark)
    }

    /// A [`Op::Barrier`] entry.
    #[must_use]
    pub const fn barrier(source_id: u16, sequence: u64, watermark: i64) -> Entry {
        Entry::new(source_id, Op::Barrier, sequence, watermark)
    }

    /// An entry with the given op, zero flags and zero reserved.
    #[must_use]
    pub const fn new(source_id: u16, op: Op, sequence: u64, watermark: i64) -> Entry {
        Entry {
            source_id,
            op: op as u8,
            flags: 0,
            reserved: 0,
            sequence,
            watermark,
        }
    }

    /// Decodes the op byte; an unknown byte is an error value, never a panic.
    ///
    /// # Errors
    /// [`UnknownOp`] if the byte names no [`Op`].
    pub fn op(&self) -> Result<Op, UnknownOp> {
        Op::try_from(self.op)
    }

    // Format: { source_id u16 | op u8 | flags u8 | reserved u32 } { sequence u64 } { watermark i64 }
    /// The on-disk form: three words whose little-endian bytes are the entry.
    #[must_use]
    #[inline]
    pub fn to_words(&self) -> [u64; ENTRY_WORDS] {
        let head = u64::from(self.source_id)
            | u64::from(self.op) << 16
            | u64::from(self.flags) << 24
            | u64::from(self.reserved) << 32;
        [head, self.sequence, self.watermark.cast_unsigned()]
    }

    /// Inverse of [`Entry::to_words`].
    #[must_use]
    #[inline]
    #[expect(
        clippy::cast_possible_truncation,
        reason = "each field is masked out of its word"
    )]
    pub fn from_words(words: [u64; ENTRY_WORDS]) -> Entry {
        let [head, sequence, watermark] = words;
        Entry {
            source_id: head as u16,
            op: (head >> 16) as u8,
            flags: (head >> 24) as u8,
            reserved: (head >> 32) as u32,
            sequence,
            watermark: watermark.cast_signed(),
        }
    }

    /// The entry's 24 on-disk bytes.
    #[must_use]
    pub fn to_le_bytes(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.to_words()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Parses 24 on-disk bytes.
    #[must_use]
    pub fn from_le_bytes(bytes: [u8; ENTRY_LEN]) -> Entry {
        let mut words = [0u64; ENTRY_WORDS];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        Entry::from_words(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_every_field() {
        let e = Entry {
            source_id: 0xBEEF,
            op: 3,
            flags: 0xA5,
            reserved: 0xDEAD_BEEF,
            sequence: u64::MAX - 7,
            watermark: i64::MIN + 3,
        };
        assert_eq!(Entry::from_words(e.to_words()), e);
        assert_eq!(Entry::from_le_bytes(e.to_le_bytes()), e);
    }

    #[test]
    fn disk_bytes_are_little_endian_field_order() {
        let e = Entry::push(0x0102, 0x0304, -1);
        let b = e.to_le_bytes();
        assert_eq!(&b[0..2], &[0x02, 0x01]);
        assert_eq!(b[2], 1);
        assert_eq!(&b[8..10], &[0x04, 0x03]);
        assert_eq!(&b[16..24], &[0xFF; 8]);
        #[cfg(target_endian = "little")]
        assert_eq!(b.as_slice(), e.as_bytes());
    }

    #[test]
    fn unknown_op_is_an_error_value() {
        assert_eq!(Op::try_from(0), Err(UnknownOp(0)));
        assert_eq!(Op::try_from(4), Err(UnknownOp(4)));
        for op in [Op::Push, Op::Watermark, Op::Barrier] {
            assert_eq!(Op::try_from(u8::from(op)), Ok(op));
        }
    }
}
