//! Segment header: the first page of every segment file names the journal, the format
//! version and the segment's base LSN.
//!
//! | offset | size | type    | field              | meaning                                  |
//! |-------:|-----:|---------|--------------------|------------------------------------------|
//! | 0      | 8    | bytes   | magic              | `89 43 50 4A 0D 0A 1A 0A` (`\x89CPJ\r\n\x1a\n`) |
//! | 8      | 4    | u32 LE  | format_version     | 3 (1 and 2 are read too)                 |
//! | 12     | 4    | u32 LE  | header_len         | 4096: frames start at this file offset   |
//! | 16     | 16   | u128 LE | journal_id         | random, chosen when the journal is made  |
//! | 32     | 8    | u64 LE  | base_lsn           | LSN of the first byte after the header   |
//! | 40     | 8    | u64 LE  | segment_size_bytes | the file's length, header included       |
//! | 48     | 8    | u64 LE  | created_at_ms      | Unix time the file was created           |
//! | 56     | 4    | u32 LE  | header_crc         | CRC32C of bytes 0..56 ‖ 60..72 (v1, v2: 0..56) |
//! | 60     | 4    | u32 LE  | flags              | bit 0: recycled; other bits 0 (v1, v2: reserved, 0) |
//! | 64     | 8    | u64 LE  | previous_base_lsn  | the base LSN the file had before it was recycled; 0 if not recycled (v3 only) |
//! | 72     | 4024 | zero    | (reserved)         | zero                                     |

use crate::format::limits::{
    SEGMENT_SIZE_ALIGN_BYTES, SEGMENT_SIZE_MAX_BYTES, SEGMENT_SIZE_MIN_BYTES,
};
use crate::format::{crc, read_u128, read_u32, read_u64};
use crate::format::{FORMAT_VERSION, FORMAT_VERSION_MIN_READ, SEGMENT_MAGIC};

/// Bytes reserved for the header at the start of every segment file.
pub const SEGMENT_HEADER_LEN: usize = SEGMENT_HEADER_LEN_U32 as usize;
const SEGMENT_HEADER_LEN_U32: u32 = 4096;
/// Bytes of the header that carry fields (the rest of the page is zero).
pub const SEGMENT_HEADER_FIELDS_LEN: usize = PREVIOUS_BASE_END;
/// The format version whose header has `flags` and `previous_base_lsn` (recycling).
pub const RECYCLING_SINCE_VERSION: u32 = 3;
/// `flags` bit: the file was recycled from a retired segment.
const FLAG_RECYCLED: u32 = 1;

const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + SEGMENT_MAGIC.len();
const HEADER_LEN_OFFSET: usize = VERSION_OFFSET + size_of::<u32>();
const JOURNAL_ID_OFFSET: usize = HEADER_LEN_OFFSET + size_of::<u32>();
const BASE_LSN_OFFSET: usize = JOURNAL_ID_OFFSET + size_of::<u128>();
const SEGMENT_SIZE_OFFSET: usize = BASE_LSN_OFFSET + size_of::<u64>();
const CREATED_OFFSET: usize = SEGMENT_SIZE_OFFSET + size_of::<u64>();
const CRC_OFFSET: usize = CREATED_OFFSET + size_of::<u64>();
const CRC_END: usize = CRC_OFFSET + size_of::<u32>();
const FLAGS_OFFSET: usize = CRC_END;
const PREVIOUS_BASE_OFFSET: usize = FLAGS_OFFSET + size_of::<u32>();
const PREVIOUS_BASE_END: usize = PREVIOUS_BASE_OFFSET + size_of::<u64>();

const _: () = assert!(CRC_OFFSET == 56);
const _: () = assert!(SEGMENT_HEADER_FIELDS_LEN == 72);
const _: () = assert!(SEGMENT_HEADER_FIELDS_LEN <= SEGMENT_HEADER_LEN);
const _: () = assert!(SEGMENT_HEADER_LEN.is_multiple_of(8));

/// The decoded fields of a segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The format version the segment was written in (new segments: `FORMAT_VERSION`).
    pub format_version: u32,
    /// The journal this segment belongs to.
    pub journal_id: u128,
    /// LSN of the first data byte.
    pub base_lsn: u64,
    /// File length, header included.
    pub segment_size_bytes: u64,
    /// Creation time, Unix milliseconds (for a recycled file: when it was recycled).
    pub created_at_ms: u64,
    /// The base LSN this file had before compaction retired it and it was recycled as
    /// this segment (format version 3; `None` for a new file and in versions 1 and 2).
    pub recycled_from: Option<u64>,
}

/// Why bytes are not a valid segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFault {
    /// Fewer bytes than the header fields.
    Truncated {
        /// Bytes present.
        found: usize,
    },
    /// All header bytes are zero: the file was created but its header never reached disk.
    Unwritten,
    /// The magic is wrong: not a segment file, or mangled by a text-mode transfer.
    BadMagic,
    /// A format version this build does not read.
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
    },
    /// The header checksum does not match.
    ChecksumMismatch,
    /// A field holds an impossible value.
    BadField {
        /// Which field.
        field: &'static str,
    },
}

impl SegmentHeader {
    /// Data bytes after the header.
    #[must_use]
    pub fn capacity_bytes(&self) -> u64 {
        self.segment_size_bytes - SEGMENT_HEADER_LEN as u64
    }

    // Format: { magic [8] | version u32 | header_len u32 | journal_id u128 | base_lsn u64
    //           | segment_size u64 | created_at_ms u64 | crc u32 | flags u32
    //           | previous_base_lsn u64 }
    /// The 72 header bytes (versions 1 and 2: `flags` and `previous_base_lsn` stay zero
    /// and the checksum covers bytes 0..56).
    #[must_use]
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_FIELDS_LEN] {
        let mut out = [0u8; SEGMENT_HEADER_FIELDS_LEN];
        let mut put = |at: usize, bytes: &[u8]| {
            if let Some(dst) = out.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        };
        put(MAGIC_OFFSET, &SEGMENT_MAGIC);
        put(VERSION_OFFSET, &self.format_version.to_le_bytes());
        put(HEADER_LEN_OFFSET, &SEGMENT_HEADER_LEN_U32.to_le_bytes());
        put(JOURNAL_ID_OFFSET, &self.journal_id.to_le_bytes());
        put(BASE_LSN_OFFSET, &self.base_lsn.to_le_bytes());
        put(SEGMENT_SIZE_OFFSET, &self.segment_size_bytes.to_le_bytes());
        put(CREATED_OFFSET, &self.created_at_ms.to_le_bytes());
        if self.format_version >= RECYCLING_SINCE_VERSION {
            let flags = if self.recycled_from.is_some() {
                FLAG_RECYCLED
            } else {
                0
            };
            put(FLAGS_OFFSET, &flags.to_le_bytes());
            put(
                PREVIOUS_BASE_OFFSET,
                &self.recycled_from.unwrap_or(0).to_le_bytes(),
            );
        }
        let crc = header_crc(&out, self.format_version);
        if let Some(dst) = out.get_mut(CRC_OFFSET..CRC_END) {
            dst.copy_from_slice(&crc.to_le_bytes());
        }
        out
    }

    /// Parses and validates header bytes read from a file.
    ///
    /// # Errors
    /// The first [`HeaderFault`] found.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, HeaderFault> {
        let Some(fields) = bytes.get(..SEGMENT_HEADER_FIELDS_LEN) else {
            return Err(HeaderFault::Truncated { found: bytes.len() });
        };
        if fields.iter().all(|&b| b == 0) {
            return Err(HeaderFault::Unwritten);
        }
        if fields.get(..SEGMENT_MAGIC.len()) != Some(SEGMENT_MAGIC.as_slice()) {
            return Err(HeaderFault::BadMagic);
        }
        let version = read_u32(fields, VERSION_OFFSET);
        if !(FORMAT_VERSION_MIN_READ..=FORMAT_VERSION).contains(&version) {
            return Err(HeaderFault::UnsupportedVersion { found: version });
        }
        if header_crc(fields, version) != read_u32(fields, CRC_OFFSET) {
            return Err(HeaderFault::ChecksumMismatch);
        }
        let recycled_from = decode_recycling(fields, version)?;
        if read_u32(fields, HEADER_LEN_OFFSET) as usize != SEGMENT_HEADER_LEN {
            return Err(HeaderFault::BadField {
                field: "header_len",
            });
        }
        let header = SegmentHeader {
            format_version: version,
            journal_id: read_u128(fields, JOURNAL_ID_OFFSET),
            base_lsn: read_u64(fields, BASE_LSN_OFFSET),
            segment_size_bytes: read_u64(fields, SEGMENT_SIZE_OFFSET),
            created_at_ms: read_u64(fields, CREATED_OFFSET),
            recycled_from,
        };
        header.check()?;
        Ok(header)
    }

    fn check(&self) -> Result<(), HeaderFault> {
        let size = self.segment_size_bytes;
        if !(SEGMENT_SIZE_MIN_BYTES..=SEGMENT_SIZE_MAX_BYTES).contains(&size)
            || !size.is_multiple_of(SEGMENT_SIZE_ALIGN_BYTES)
        {
            return Err(HeaderFault::BadField {
                field: "segment_size_bytes",
            });
        }
        if !self.base_lsn.is_multiple_of(8) || self.base_lsn.checked_add(size).is_none() {
            return Err(HeaderFault::BadField { field: "base_lsn" });
        }
        // LSNs are never reused: a file is only ever recycled to a higher base.
        if self
            .recycled_from
            .is_some_and(|prev| !prev.is_multiple_of(8) || prev >= self.base_lsn)
        {
            return Err(HeaderFault::BadField {
                field: "previous_base_lsn",
            });
        }
        Ok(())
    }
}

/// The header checksum: over bytes 0..56, and from version 3 also over 60..72.
fn header_crc(fields: &[u8], version: u32) -> u32 {
    let head = crc::bytes_crc(fields.get(..CRC_OFFSET).unwrap_or_default());
    if version < RECYCLING_SINCE_VERSION {
        return head;
    }
    let mut covered = [0u8; SEGMENT_HEADER_FIELDS_LEN - size_of::<u32>()];
    let (a, b) = covered.split_at_mut(CRC_OFFSET);
    a.copy_from_slice(fields.get(..CRC_OFFSET).unwrap_or(&[0; CRC_OFFSET]));
    if let Some(rest) = fields.get(CRC_END..SEGMENT_HEADER_FIELDS_LEN) {
        b.copy_from_slice(rest);
    }
    crc::bytes_crc(&covered)
}

/// `recycled_from` of checksummed header bytes: version 3 reads `flags` and
/// `previous_base_lsn`; versions 1 and 2 require the reserved word to be zero.
fn decode_recycling(fields: &[u8], version: u32) -> Result<Option<u64>, HeaderFault> {
    let flags = read_u32(fields, FLAGS_OFFSET);
    if version < RECYCLING_SINCE_VERSION {
        return if flags == 0 {
            Ok(None)
        } else {
            Err(HeaderFault::BadField { field: "reserved" })
        };
    }
    let previous = read_u64(fields, PREVIOUS_BASE_OFFSET);
    match flags {
        0 if previous == 0 => Ok(None),
        0 => Err(HeaderFault::BadField {
            field: "previous_base_lsn",
        }),
        FLAG_RECYCLED => Ok(Some(previous)),
        _ => Err(HeaderFault::BadField { field: "flags" }),
    }
}

/// The format version stored in header bytes, if they are long enough to hold one.
#[must_use]
pub fn peek_version(bytes: &[u8]) -> Option<u32> {
    bytes
        .get(VERSION_OFFSET..VERSION_OFFSET + 4)
        .map(|_| read_u32(bytes, VERSION_OFFSET))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SegmentHeader {
        SegmentHeader {
            format_version: FORMAT_VERSION,
            journal_id: 0x0123_4567_89AB_CDEF_0011_2233_4455_6677,
            base_lsn: 8192,
            segment_size_bytes: 1 << 20,
            created_at_ms: 1_700_000_000_000,
            recycled_from: None,
        }
    }

    fn recycled() -> SegmentHeader {
        SegmentHeader {
            recycled_from: Some(4096),
            ..sample()
        }
    }

    #[test]
    fn round_trip() {
        assert_eq!(SegmentHeader::decode(&sample().encode()), Ok(sample()));
        let v1 = SegmentHeader {
            format_version: 1,
            ..sample()
        };
        assert_eq!(SegmentHeader::decode(&v1.encode()), Ok(v1));
        let v2 = SegmentHeader {
            format_version: 2,
            ..sample()
        };
        assert_eq!(SegmentHeader::decode(&v2.encode()), Ok(v2));
        assert_eq!(SegmentHeader::decode(&recycled().encode()), Ok(recycled()));
    }

    #[test]
    fn every_bit_flip_is_a_fault() {
        for header in [sample(), recycled()] {
            let bytes = header.encode();
            for bit in 0..bytes.len() * 8 {
                let mut b = bytes;
                b[bit / 8] ^= 1 << (bit % 8);
                assert!(SegmentHeader::decode(&b).is_err(), "{header:?} bit {bit}");
            }
        }
        // Versions 1 and 2: the checksummed bytes and the reserved word.
        let v2 = SegmentHeader {
            format_version: 2,
            ..sample()
        }
        .encode();
        for bit in 0..64 * 8 {
            let mut b = v2;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(SegmentHeader::decode(&b).is_err(), "v2 bit {bit}");
        }
    }

    #[test]
    fn recycling_fields_are_checked() {
        let bad_flags = {
            let mut b = sample().encode();
            b[FLAGS_OFFSET] = 2;
            let crc = header_crc(&b, FORMAT_VERSION);
            b[CRC_OFFSET..CRC_END].copy_from_slice(&crc.to_le_bytes());
            b
        };
        assert_eq!(
            SegmentHeader::decode(&bad_flags),
            Err(HeaderFault::BadField { field: "flags" })
        );
        for previous in [8192, 9000, 1 << 20] {
            let bytes = SegmentHeader {
                recycled_from: Some(previous),
                ..sample()
            }
            .encode();
            assert_eq!(
                SegmentHeader::decode(&bytes),
                Err(HeaderFault::BadField {
                    field: "previous_base_lsn"
                }),
                "{previous}"
            );
        }
        // A version-2 header never carries the recycling fields.
        let v2 = SegmentHeader {
            format_version: 2,
            ..recycled()
        };
        assert_eq!(
            SegmentHeader::decode(&v2.encode()).map(|h| h.recycled_from),
            Ok(None)
        );
    }

    #[test]
    fn faults_are_specific() {
        let bytes = sample().encode();
        assert_eq!(
            SegmentHeader::decode(&bytes[..10]),
            Err(HeaderFault::Truncated { found: 10 })
        );
        assert_eq!(
            SegmentHeader::decode(&[0u8; SEGMENT_HEADER_FIELDS_LEN]),
            Err(HeaderFault::Unwritten)
        );
        let mut v4 = bytes;
        v4[VERSION_OFFSET] = 4;
        assert_eq!(
            SegmentHeader::decode(&v4),
            Err(HeaderFault::UnsupportedVersion { found: 4 })
        );
        let mut v0 = bytes;
        v0[VERSION_OFFSET] = 0;
        assert_eq!(
            SegmentHeader::decode(&v0),
            Err(HeaderFault::UnsupportedVersion { found: 0 })
        );
        let mut magic = bytes;
        magic[0] = b'X';
        assert_eq!(SegmentHeader::decode(&magic), Err(HeaderFault::BadMagic));
    }
}
