//! The clean-shutdown file (`journal.clean`): written by a clean `close` once every frame
//! is durable, it names the journal, the LSN where its frames end and the segment that
//! holds that end. Open trusts it (see docs/DURABILITY.md "Clean shutdown") only when
//! its own scan of the frames stops exactly there, and removes it before anything can be
//! appended. Encode and validate only; its use lives in `crate::recovery`.
//!
//! | offset | size | type | field |
//! |---|---|---|---|
//! | 0 | 8 | bytes | magic `\x89CPC\r\n\x1a\n` |
//! | 8 | 4 | u32 LE | version (1) |
//! | 12 | 4 | u32 LE | reserved, zero |
//! | 16 | 16 | u128 LE | journal id |
//! | 32 | 8 | u64 LE | end LSN: appends continue here |
//! | 40 | 8 | u64 LE | base LSN of the segment holding the last frame |
//! | 48 | 8 | u64 LE | that segment's creation time (its header's `created_at_ms`) |
//! | 56 | 4 | u32 LE | CRC32C of every byte before it |

use std::fmt;

use crate::format::crc::bytes_crc;

/// Magic of a clean-shutdown file (PNG-style, as the segment magic).
pub const CLEAN_MAGIC: [u8; 8] = *b"\x89CPC\r\n\x1a\n";
/// Version of the clean-shutdown layout written by this build.
pub const CLEAN_VERSION: u32 = 1;
/// Size of a clean-shutdown file.
pub const CLEAN_FILE_BYTES: usize = 60;

const VERSION_OFFSET: usize = 8;
const RESERVED_OFFSET: usize = 12;
const JOURNAL_ID_OFFSET: usize = 16;
const END_OFFSET: usize = 32;
const SEGMENT_BASE_OFFSET: usize = 40;
const SEGMENT_CREATED_OFFSET: usize = 48;
const CRC_OFFSET: usize = 56;

const _: () = assert!(CRC_OFFSET + size_of::<u32>() == CLEAN_FILE_BYTES);

/// What a clean close recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanShutdown {
    /// The journal's id.
    pub journal_id: u128,
    /// The LSN just past the last frame; every frame below it was durable at the close.
    pub end_lsn: u64,
    /// Base LSN of the segment holding the last frame.
    pub segment_base: u64,
    /// That segment's creation time, Unix milliseconds (from its header).
    pub segment_created_at_ms: u64,
}

/// Why a clean-shutdown file does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CleanFault {
    /// Not exactly [`CLEAN_FILE_BYTES`] long.
    Length {
        /// Bytes found.
        len: usize,
    },
    /// Not a clean-shutdown file.
    BadMagic,
    /// Written by another version of the layout.
    Version {
        /// The version found.
        found: u32,
    },
    /// The reserved field is not zero.
    Reserved,
    /// The checksum does not match the contents.
    Checksum {
        /// Stored checksum.
        stored: u32,
        /// Checksum of the contents.
        computed: u32,
    },
}

impl fmt::Display for CleanFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CleanFault::Length { len } => {
                write!(f, "{len} bytes, not {CLEAN_FILE_BYTES}")
            }
            CleanFault::BadMagic => write!(f, "not a clean-shutdown file (bad magic)"),
            CleanFault::Version { found } => {
                write!(f, "version {found}, this build reads {CLEAN_VERSION}")
            }
            CleanFault::Reserved => write!(f, "reserved field not zero"),
            CleanFault::Checksum { stored, computed } => {
                write!(f, "checksum {stored:08x} does not match {computed:08x}")
            }
        }
    }
}

impl CleanShutdown {
    // Format: { magic [8] | version u32 | reserved u32 | journal_id u128 | end_lsn u64 |
    //           segment_base u64 | segment_created_at_ms u64 | crc32c u32 }
    /// The file's bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CLEAN_FILE_BYTES);
        out.extend_from_slice(&CLEAN_MAGIC);
        out.extend_from_slice(&CLEAN_VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.journal_id.to_le_bytes());
        out.extend_from_slice(&self.end_lsn.to_le_bytes());
        out.extend_from_slice(&self.segment_base.to_le_bytes());
        out.extend_from_slice(&self.segment_created_at_ms.to_le_bytes());
        debug_assert_eq!(out.len(), CRC_OFFSET);
        let crc = bytes_crc(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    // Format: as `encode`.
    /// Parses and validates a clean-shutdown file's bytes.
    ///
    /// # Errors
    /// The [`CleanFault`]; never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<CleanShutdown, CleanFault> {
        if bytes.len() != CLEAN_FILE_BYTES {
            return Err(CleanFault::Length { len: bytes.len() });
        }
        if bytes.get(..CLEAN_MAGIC.len()) != Some(CLEAN_MAGIC.as_slice()) {
            return Err(CleanFault::BadMagic);
        }
        let version = super::read_u32(bytes, VERSION_OFFSET);
        if version != CLEAN_VERSION {
            return Err(CleanFault::Version { found: version });
        }
        if super::read_u32(bytes, RESERVED_OFFSET) != 0 {
            return Err(CleanFault::Reserved);
        }
        let stored = super::read_u32(bytes, CRC_OFFSET);
        let computed = bytes_crc(bytes.get(..CRC_OFFSET).unwrap_or_default());
        if stored != computed {
            return Err(CleanFault::Checksum { stored, computed });
        }
        Ok(CleanShutdown {
            journal_id: super::read_u128(bytes, JOURNAL_ID_OFFSET),
            end_lsn: super::read_u64(bytes, END_OFFSET),
            segment_base: super::read_u64(bytes, SEGMENT_BASE_OFFSET),
            segment_created_at_ms: super::read_u64(bytes, SEGMENT_CREATED_OFFSET),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CleanShutdown {
        CleanShutdown {
            journal_id: 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            end_lsn: 0x0400_1230,
            segment_base: 0x03ff_f000,
            segment_created_at_ms: 1_764_770_000_000,
        }
    }

    #[test]
    fn round_trips() {
        let bytes = sample().encode();
        assert_eq!(bytes.len(), CLEAN_FILE_BYTES);
        assert_eq!(CleanShutdown::decode(&bytes), Ok(sample()));
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = sample().encode();
        let at = |from: usize, len: usize| bytes.get(from..from + len).unwrap_or_default();
        assert_eq!(at(0, 8), b"\x89CPC\r\n\x1a\n");
        assert_eq!(at(8, 4), 1u32.to_le_bytes());
        assert_eq!(at(12, 4), [0; 4]);
        assert_eq!(at(16, 16), sample().journal_id.to_le_bytes());
        assert_eq!(at(32, 8), 0x0400_1230u64.to_le_bytes());
        assert_eq!(at(40, 8), 0x03ff_f000u64.to_le_bytes());
        assert_eq!(at(48, 8), 1_764_770_000_000u64.to_le_bytes());
        assert_eq!(at(56, 4), crc32c::crc32c(at(0, 56)).to_le_bytes());
    }

    #[test]
    fn every_flipped_bit_and_every_length_is_refused() {
        let bytes = sample().encode();
        for bit in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            if let Some(b) = bad.get_mut(bit / 8) {
                *b ^= 1 << (bit % 8);
            }
            assert!(CleanShutdown::decode(&bad).is_err(), "bit {bit} accepted");
        }
        for len in 0..bytes.len() {
            let short = bytes.get(..len).unwrap_or_default();
            assert_eq!(
                CleanShutdown::decode(short),
                Err(CleanFault::Length { len })
            );
        }
        let mut long = bytes;
        long.push(0);
        assert!(CleanShutdown::decode(&long).is_err());
    }
}
