//! The published stats file (`journal.stats`): a running writer's `Stats` snapshot for
//! other processes (`cpj stats`), replaced every `Options::stats_file_interval`.
//! Advisory: never read by recovery, never synced, removed on close. Encode and
//! validate the envelope only; the payload (a postcard-encoded record: the writer's
//! identity, when it was written, the stats) is built and read in `crate::stats`.
//!
//! | offset | size | type | field |
//! |---|---|---|---|
//! | 0 | 8 | bytes | magic `\x89CPS\r\n\x1a\n` |
//! | 8 | 4 | u32 LE | version (1) |
//! | 12 | 4 | u32 LE | `payload_len`, at most `STATS_FILE_BYTES_MAX - 20` |
//! | 16 | `payload_len` | bytes | payload (postcard) |
//! | 16 + `payload_len` | 4 | u32 LE | CRC32C of every byte before it |

use std::fmt;

use crate::format::crc::bytes_crc;

/// Magic of a stats file (PNG-style, as the segment and lease magics).
pub const STATS_MAGIC: [u8; 8] = *b"\x89CPS\r\n\x1a\n";
/// Version of the stats file written by this build (the envelope and the payload's
/// record layout together).
pub const STATS_VERSION: u32 = 1;
/// Largest stats file: the writer bounds every string it puts in, so a real one stays
/// far below.
pub const STATS_FILE_BYTES_MAX: usize = 16 * 1024;

const HEADER_LEN: usize = 16;
const CRC_LEN: usize = 4;

/// Why a stats file does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatsFileFault {
    /// Shorter than its fields say.
    Truncated {
        /// Bytes found.
        len: usize,
    },
    /// Longer than its fields say, or than any stats file can be.
    TrailingBytes {
        /// Bytes found.
        len: usize,
    },
    /// Not a stats file.
    BadMagic,
    /// Written by another version.
    Version {
        /// The version found.
        found: u32,
    },
    /// The checksum does not match the contents.
    Checksum {
        /// Stored checksum.
        stored: u32,
        /// Checksum of the contents.
        computed: u32,
    },
    /// The payload does not decode as this version's record.
    Payload(String),
}

impl fmt::Display for StatsFileFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsFileFault::Truncated { len } => write!(f, "truncated ({len} bytes)"),
            StatsFileFault::TrailingBytes { len } => {
                write!(f, "{len} bytes, more than it holds")
            }
            StatsFileFault::BadMagic => write!(f, "not a stats file (bad magic)"),
            StatsFileFault::Version { found } => {
                write!(
                    f,
                    "stats file version {found}, this build reads {STATS_VERSION}"
                )
            }
            StatsFileFault::Checksum { stored, computed } => {
                write!(f, "checksum {stored:08x} does not match {computed:08x}")
            }
            StatsFileFault::Payload(why) => write!(f, "payload does not decode: {why}"),
        }
    }
}

// Format: { magic [8] | version u32 | payload_len u32 | payload [payload_len] | crc32c u32 }
/// The file's bytes around `payload`; `None` if the file would exceed
/// [`STATS_FILE_BYTES_MAX`].
#[must_use]
pub fn encode(payload: &[u8]) -> Option<Vec<u8>> {
    let len = HEADER_LEN + payload.len() + CRC_LEN;
    if len > STATS_FILE_BYTES_MAX {
        return None;
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&STATS_MAGIC);
    out.extend_from_slice(&STATS_VERSION.to_le_bytes());
    out.extend_from_slice(&u32::try_from(payload.len()).ok()?.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = bytes_crc(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Some(out)
}

// Format: as `encode`.
/// Validates a stats file's bytes and returns its payload.
///
/// # Errors
/// The [`StatsFileFault`]; never panics, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Result<&[u8], StatsFileFault> {
    let len = bytes.len();
    if len > STATS_FILE_BYTES_MAX {
        return Err(StatsFileFault::TrailingBytes { len });
    }
    if bytes.get(..STATS_MAGIC.len()) != Some(STATS_MAGIC.as_slice()) {
        return Err(if len < STATS_MAGIC.len() {
            StatsFileFault::Truncated { len }
        } else {
            StatsFileFault::BadMagic
        });
    }
    let version = u32_at(bytes, 8)?;
    if version != STATS_VERSION {
        return Err(StatsFileFault::Version { found: version });
    }
    let payload_len = usize::try_from(u32_at(bytes, 12)?).unwrap_or(usize::MAX);
    let crc_offset = HEADER_LEN.saturating_add(payload_len);
    let end = crc_offset.saturating_add(CRC_LEN);
    if len < end {
        return Err(StatsFileFault::Truncated { len });
    }
    if len > end {
        return Err(StatsFileFault::TrailingBytes { len });
    }
    let stored = u32_at(bytes, crc_offset)?;
    let computed = bytes_crc(bytes.get(..crc_offset).unwrap_or_default());
    if stored != computed {
        return Err(StatsFileFault::Checksum { stored, computed });
    }
    Ok(bytes.get(HEADER_LEN..crc_offset).unwrap_or_default())
}

fn u32_at(bytes: &[u8], offset: usize) -> Result<u32, StatsFileFault> {
    bytes
        .get(offset..offset + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(StatsFileFault::Truncated { len: bytes.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_every_flipped_bit_or_truncation_is_a_fault() {
        let bytes = encode(b"payload bytes").unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + 13 + CRC_LEN);
        assert_eq!(decode(&bytes), Ok(&b"payload bytes"[..]));
        for i in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(decode(&bad).is_err(), "bit {i}");
        }
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "len {len}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            decode(&long),
            Err(StatsFileFault::TrailingBytes { len: long.len() })
        );
        assert!(decode(&vec![0xFF; STATS_FILE_BYTES_MAX + 1]).is_err());
        assert!(encode(&vec![0; STATS_FILE_BYTES_MAX]).is_none());
    }
}
