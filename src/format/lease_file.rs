//! The owner lease file (`journal.lease`): who owns a journal directory — host, boot,
//! process id and process start time — with a checksum. Encode and validate only; the
//! decision table that reads it lives in `crate::lease`.
//!
//! | offset | size | type | field |
//! |---|---|---|---|
//! | 0 | 8 | bytes | magic `\x89CPL\r\n\x1a\n` |
//! | 8 | 4 | u32 LE | version (1) |
//! | 12 | 4 | u32 LE | `host_len`, at most 255 |
//! | 16 | 4 | u32 LE | pid |
//! | 20 | 4 | u32 LE | reserved, zero |
//! | 24 | 8 | u64 LE | process start time, clock ticks after boot (`/proc/PID/stat` field 22) |
//! | 32 | 8 | u64 LE | acquired at, Unix milliseconds |
//! | 40 | 16 | u128 LE | boot id (`/proc/sys/kernel/random/boot_id`; 0 if unknown) |
//! | 56 | 16 | u128 LE | journal id (0 until recovery has read it) |
//! | 72 | `host_len` | UTF-8 | host name |
//! | 72 + `host_len` | 4 | u32 LE | CRC32C of every byte before it |

use std::fmt;

use crate::format::crc::bytes_crc;
use crate::format::limits::LEASE_HOST_BYTES_MAX;

/// Magic of a lease file (PNG-style, as the segment magic).
pub const LEASE_MAGIC: [u8; 8] = *b"\x89CPL\r\n\x1a\n";
/// Version of the lease layout written by this build.
pub const LEASE_VERSION: u32 = 1;

const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + LEASE_MAGIC.len();
const HOST_LEN_OFFSET: usize = VERSION_OFFSET + size_of::<u32>();
const PID_OFFSET: usize = HOST_LEN_OFFSET + size_of::<u32>();
const RESERVED_OFFSET: usize = PID_OFFSET + size_of::<u32>();
const START_OFFSET: usize = RESERVED_OFFSET + size_of::<u32>();
const ACQUIRED_OFFSET: usize = START_OFFSET + size_of::<u64>();
const BOOT_ID_OFFSET: usize = ACQUIRED_OFFSET + size_of::<u64>();
const JOURNAL_ID_OFFSET: usize = BOOT_ID_OFFSET + size_of::<u128>();
const HOST_OFFSET: usize = JOURNAL_ID_OFFSET + size_of::<u128>();

/// Largest lease file: the fixed fields, the longest host name and the checksum.
pub const LEASE_FILE_BYTES_MAX: usize = HOST_OFFSET + LEASE_HOST_BYTES_MAX + size_of::<u32>();

const _: () = assert!(HOST_OFFSET == 72);
const _: () = assert!(LEASE_FILE_BYTES_MAX == 331);

/// The owner a lease file names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    /// Host name of the owner.
    pub host: String,
    /// Boot id of the owner's host (0 if unknown): a different boot means the owner died.
    pub boot_id: u128,
    /// Process id of the owner.
    pub pid: u32,
    /// Start time of the owner process in clock ticks after boot (0 if unknown): a live
    /// process with this pid and another start time is a different process.
    pub start_ticks: u64,
    /// When the lease was written, Unix milliseconds.
    pub acquired_at_ms: u64,
    /// The journal's id (0 until recovery has read it).
    pub journal_id: u128,
}

/// Why a lease file does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseFault {
    /// Shorter than its fields say.
    Truncated {
        /// Bytes found.
        len: usize,
    },
    /// Longer than its fields say, or than any lease file can be.
    TrailingBytes {
        /// Bytes found.
        len: usize,
    },
    /// Not a lease file.
    BadMagic,
    /// Written by another version of the layout.
    Version {
        /// The version found.
        found: u32,
    },
    /// A host name longer than the limit, or not UTF-8.
    BadHost,
    /// The checksum does not match the contents.
    Checksum {
        /// Stored checksum.
        stored: u32,
        /// Checksum of the contents.
        computed: u32,
    },
}

impl fmt::Display for LeaseFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseFault::Truncated { len } => write!(f, "truncated ({len} bytes)"),
            LeaseFault::TrailingBytes { len } => write!(f, "{len} bytes, more than it holds"),
            LeaseFault::BadMagic => write!(f, "not a lease file (bad magic)"),
            LeaseFault::Version { found } => {
                write!(f, "lease version {found}, this build reads {LEASE_VERSION}")
            }
            LeaseFault::BadHost => write!(f, "host name too long or not UTF-8"),
            LeaseFault::Checksum { stored, computed } => {
                write!(f, "checksum {stored:08x} does not match {computed:08x}")
            }
        }
    }
}

impl LeaseRecord {
    // Format: { magic [8] | version u32 | host_len u32 | pid u32 | reserved u32 |
    //           start_ticks u64 | acquired_at_ms u64 | boot_id u128 | journal_id u128 |
    //           host [host_len] | crc32c u32 }
    /// The file's bytes. A host name over the limit is cut at a character boundary.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let host = truncate_host(&self.host);
        let mut out = Vec::with_capacity(HOST_OFFSET + host.len() + 4);
        out.extend_from_slice(&LEASE_MAGIC);
        out.extend_from_slice(&LEASE_VERSION.to_le_bytes());
        out.extend_from_slice(&u32::try_from(host.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.pid.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.start_ticks.to_le_bytes());
        out.extend_from_slice(&self.acquired_at_ms.to_le_bytes());
        out.extend_from_slice(&self.boot_id.to_le_bytes());
        out.extend_from_slice(&self.journal_id.to_le_bytes());
        debug_assert_eq!(out.len(), HOST_OFFSET);
        out.extend_from_slice(host.as_bytes());
        let crc = bytes_crc(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        debug_assert!(out.len() <= LEASE_FILE_BYTES_MAX);
        out
    }

    // Format: as `encode`.
    /// Parses and validates a lease file's bytes.
    ///
    /// # Errors
    /// The [`LeaseFault`]; never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<LeaseRecord, LeaseFault> {
        let len = bytes.len();
        if len > LEASE_FILE_BYTES_MAX {
            return Err(LeaseFault::TrailingBytes { len });
        }
        if bytes.get(..LEASE_MAGIC.len()) != Some(LEASE_MAGIC.as_slice()) {
            return Err(if len < LEASE_MAGIC.len() {
                LeaseFault::Truncated { len }
            } else {
                LeaseFault::BadMagic
            });
        }
        let version = u32_at(bytes, VERSION_OFFSET)?;
        if version != LEASE_VERSION {
            return Err(LeaseFault::Version { found: version });
        }
        let host_len = usize::try_from(u32_at(bytes, HOST_LEN_OFFSET)?).unwrap_or(usize::MAX);
        if host_len > LEASE_HOST_BYTES_MAX {
            return Err(LeaseFault::BadHost);
        }
        let crc_offset = HOST_OFFSET + host_len;
        let end = crc_offset + size_of::<u32>();
        if len < end {
            return Err(LeaseFault::Truncated { len });
        }
        if len > end {
            return Err(LeaseFault::TrailingBytes { len });
        }
        let stored = u32_at(bytes, crc_offset)?;
        let computed = bytes_crc(bytes.get(..crc_offset).unwrap_or_default());
        if stored != computed {
            return Err(LeaseFault::Checksum { stored, computed });
        }
        let host = bytes.get(HOST_OFFSET..crc_offset).unwrap_or_default();
        Ok(LeaseRecord {
            host: String::from_utf8(host.to_vec()).map_err(|_| LeaseFault::BadHost)?,
            boot_id: u128_at(bytes, BOOT_ID_OFFSET)?,
            pid: u32_at(bytes, PID_OFFSET)?,
            start_ticks: u64_at(bytes, START_OFFSET)?,
            acquired_at_ms: u64_at(bytes, ACQUIRED_OFFSET)?,
            journal_id: u128_at(bytes, JOURNAL_ID_OFFSET)?,
        })
    }
}

fn truncate_host(host: &str) -> &str {
    let mut end = host.len().min(LEASE_HOST_BYTES_MAX);
    while !host.is_char_boundary(end) {
        end -= 1;
    }
    host.get(..end).unwrap_or_default()
}

fn array_at<const N: usize>(bytes: &[u8], offset: usize) -> Result<[u8; N], LeaseFault> {
    bytes
        .get(offset..offset + N)
        .and_then(|b| b.try_into().ok())
        .ok_or(LeaseFault::Truncated { len: bytes.len() })
}

fn u32_at(bytes: &[u8], offset: usize) -> Result<u32, LeaseFault> {
    array_at(bytes, offset).map(u32::from_le_bytes)
}

fn u64_at(bytes: &[u8], offset: usize) -> Result<u64, LeaseFault> {
    array_at(bytes, offset).map(u64::from_le_bytes)
}

fn u128_at(bytes: &[u8], offset: usize) -> Result<u128, LeaseFault> {
    array_at(bytes, offset).map(u128::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> LeaseRecord {
        LeaseRecord {
            host: "host-a".into(),
            boot_id: 0x1234_5678_9abc_def0_1122_3344_5566_7788,
            pid: 4242,
            start_ticks: 987_654,
            acquired_at_ms: 1_700_000_000_000,
            journal_id: 7,
        }
    }

    #[test]
    fn round_trips_and_lays_out_fields_at_their_offsets() {
        let bytes = record().encode();
        assert_eq!(bytes.len(), HOST_OFFSET + 6 + 4);
        assert_eq!(&bytes[..8], &LEASE_MAGIC);
        assert_eq!(&bytes[PID_OFFSET..PID_OFFSET + 4], &4242u32.to_le_bytes());
        assert_eq!(&bytes[HOST_OFFSET..HOST_OFFSET + 6], b"host-a");
        assert_eq!(LeaseRecord::decode(&bytes), Ok(record()));
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_is_a_fault() {
        let bytes = record().encode();
        for i in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(LeaseRecord::decode(&bad).is_err(), "bit {i}");
        }
        for len in 0..bytes.len() {
            assert!(LeaseRecord::decode(&bytes[..len]).is_err(), "len {len}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            LeaseRecord::decode(&long),
            Err(LeaseFault::TrailingBytes { len: long.len() })
        );
        assert!(LeaseRecord::decode(&[0xFF; 4096]).is_err());
    }

    #[test]
    fn a_long_host_name_is_cut_to_the_limit() {
        let mut r = record();
        r.host = "é".repeat(200);
        let decoded = LeaseRecord::decode(&r.encode()).unwrap();
        assert!(decoded.host.len() <= LEASE_HOST_BYTES_MAX);
        assert!(r.host.starts_with(&decoded.host));
    }
}
