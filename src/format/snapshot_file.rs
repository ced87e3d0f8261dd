//! Snapshot file: the materialized [`State`] of a journal as of an LSN, written by
//! compaction and loaded by open instead of replaying the segments below that LSN.
//!
//! | offset       | size     | type    | field         | meaning                                       |
//! |-------------:|---------:|---------|---------------|-----------------------------------------------|
//! | 0            | 8        | bytes   | magic         | `89 43 50 53 0D 0A 1A 0A` (`\x89CPS\r\n\x1a\n`) |
//! | 8            | 4        | u32 LE  | version       | 1                                             |
//! | 12           | 4        | u32 LE  | header_len    | 64: the body starts at this offset            |
//! | 16           | 16       | u128 LE | journal_id    | the journal the snapshot belongs to           |
//! | 32           | 8        | u64 LE  | snapshot_lsn  | the state folds every frame below this LSN    |
//! | 40           | 8        | u64 LE  | created_at_ms | Unix time the snapshot was written            |
//! | 48           | 8        | u64 LE  | body_len      | bytes of the body (≤ `SNAPSHOT_BODY_MAX_BYTES`) |
//! | 56           | 8        | zero    | reserved      | 0                                             |
//! | 64           | body_len | bytes   | body          | postcard `SnapshotBody::V1(State)`            |
//! | 64+body_len  | 4        | u32 LE  | crc           | CRC32C (seed 0) of bytes `0..64+body_len`     |
//! | …            | …        | zero    | padding       | to the file's length (a whole number of pages)|

use serde::{Deserialize, Serialize};

use crate::format::limits::SNAPSHOT_BODY_MAX_BYTES;
use crate::format::{crc, read_u128, read_u32, read_u64};
use crate::state::State;

/// PNG-style magic of a snapshot file (differs from a segment's in its fourth byte).
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"\x89CPS\r\n\x1a\n";
/// Version of the snapshot layout written by this build.
///
/// Version history: 1, the first snapshot format.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Bytes before the body.
pub const SNAPSHOT_HEADER_LEN: usize = SNAPSHOT_HEADER_LEN_U32 as usize;
const SNAPSHOT_HEADER_LEN_U32: u32 = 64;
/// Bytes after the body (the checksum).
pub const SNAPSHOT_TRAILER_LEN: usize = size_of::<u32>();

const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + SNAPSHOT_MAGIC.len();
const HEADER_LEN_OFFSET: usize = VERSION_OFFSET + size_of::<u32>();
const JOURNAL_ID_OFFSET: usize = HEADER_LEN_OFFSET + size_of::<u32>();
const LSN_OFFSET: usize = JOURNAL_ID_OFFSET + size_of::<u128>();
const CREATED_OFFSET: usize = LSN_OFFSET + size_of::<u64>();
const BODY_LEN_OFFSET: usize = CREATED_OFFSET + size_of::<u64>();
const RESERVED_OFFSET: usize = BODY_LEN_OFFSET + size_of::<u64>();
const RESERVED_END: usize = RESERVED_OFFSET + size_of::<u64>();

const _: () = assert!(RESERVED_END == SNAPSHOT_HEADER_LEN);
const _: () = assert!(SNAPSHOT_HEADER_LEN.is_multiple_of(8));

/// The decoded header of a snapshot file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The journal the snapshot belongs to.
    pub journal_id: u128,
    /// Every frame below this LSN is folded into the state.
    pub snapshot_lsn: u64,
    /// Unix milliseconds at writing.
    pub created_at_ms: u64,
    /// Bytes of the body.
    pub body_len: u64,
}

/// Why bytes are not a valid snapshot file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotFault {
    /// The file ends before the header, or before the body and checksum it announces.
    Truncated {
        /// Bytes present.
        found: u64,
        /// Bytes the header (and body length) require.
        needed: u64,
    },
    /// The magic is wrong: not a snapshot, or mangled by a text-mode transfer.
    BadMagic,
    /// A snapshot version this build does not read.
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
    },
    /// The body is larger than `SNAPSHOT_BODY_MAX_BYTES`.
    TooLarge {
        /// The announced body length.
        body_len: u64,
    },
    /// The checksum over header and body does not match.
    ChecksumMismatch,
    /// A header field holds an impossible value.
    BadField {
        /// Which field.
        field: &'static str,
    },
    /// The checksum matches but the body does not decode (written by a newer build?).
    Body(String),
}

impl std::fmt::Display for SnapshotFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotFault::Truncated { found, needed } => {
                write!(f, "truncated: {found} bytes, {needed} needed")
            }
            SnapshotFault::BadMagic => write!(f, "not a snapshot file (bad magic)"),
            SnapshotFault::UnsupportedVersion { found } => write!(
                f,
                "snapshot version {found}, this build reads version {SNAPSHOT_VERSION}"
            ),
            SnapshotFault::TooLarge { body_len } => write!(
                f,
                "body of {body_len} bytes exceeds the limit of {SNAPSHOT_BODY_MAX_BYTES}"
            ),
            SnapshotFault::ChecksumMismatch => write!(f, "checksum mismatch"),
            SnapshotFault::BadField { field } => write!(f, "impossible value in `{field}`"),
            SnapshotFault::Body(why) => write!(f, "body does not decode: {why}"),
        }
    }
}

/// The body, versioned so that a later build can add a variant and still read V1.
#[derive(Debug, Serialize, Deserialize)]
enum SnapshotBody {
    V1(State),
}

/// Encodes `state` as a snapshot body.
///
/// # Errors
/// [`SnapshotFault::TooLarge`] if the encoding exceeds the limit.
pub fn encode_body(state: &State) -> Result<Vec<u8>, SnapshotFault> {
    // Format: { variant varint | postcard State }
    let body = postcard::to_allocvec(&SnapshotBodyRef::V1(state))
        .map_err(|e| SnapshotFault::Body(e.to_string()))?;
    if body.len() > SNAPSHOT_BODY_MAX_BYTES {
        return Err(SnapshotFault::TooLarge {
            body_len: body.len() as u64,
        });
    }
    Ok(body)
}

/// Decodes a snapshot body (after [`decode`] checked its checksum).
///
/// # Errors
/// [`SnapshotFault::Body`] if it does not decode, or has bytes after the state.
pub fn decode_body(body: &[u8]) -> Result<State, SnapshotFault> {
    // Format: { variant varint | postcard State }
    let (decoded, rest) = postcard::take_from_bytes::<SnapshotBody>(body)
        .map_err(|e| SnapshotFault::Body(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SnapshotFault::Body(format!(
            "{} bytes after the state",
            rest.len()
        )));
    }
    let SnapshotBody::V1(state) = decoded;
    Ok(state)
}

/// Borrowing twin of [`SnapshotBody`] for encoding without a clone.
#[derive(Serialize)]
enum SnapshotBodyRef<'a> {
    V1(&'a State),
}

// Format: { magic [8] | version u32 | header_len u32 | journal_id u128 | snapshot_lsn u64
//           | created_at_ms u64 | body_len u64 | reserved u64 | body | crc u32 }
/// The file bytes for `header` (its `body_len` is taken from `body`) and `body`.
#[must_use]
pub fn encode(header: &SnapshotHeader, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; SNAPSHOT_HEADER_LEN];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(dst) = out.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    };
    put(MAGIC_OFFSET, &SNAPSHOT_MAGIC);
    put(VERSION_OFFSET, &SNAPSHOT_VERSION.to_le_bytes());
    put(HEADER_LEN_OFFSET, &SNAPSHOT_HEADER_LEN_U32.to_le_bytes());
    put(JOURNAL_ID_OFFSET, &header.journal_id.to_le_bytes());
    put(LSN_OFFSET, &header.snapshot_lsn.to_le_bytes());
    put(CREATED_OFFSET, &header.created_at_ms.to_le_bytes());
    put(BODY_LEN_OFFSET, &(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc::bytes_crc(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(
        out.len(),
        SNAPSHOT_HEADER_LEN + body.len() + SNAPSHOT_TRAILER_LEN
    );
    out
}

/// Validates a snapshot file's bytes (trailing padding allowed); returns the header and
/// the body, whose checksum has been verified.
///
/// # Errors
/// The first [`SnapshotFault`] found.
pub fn decode(bytes: &[u8]) -> Result<(SnapshotHeader, &[u8]), SnapshotFault> {
    let truncated = |needed: u64| SnapshotFault::Truncated {
        found: bytes.len() as u64,
        needed,
    };
    let Some(fields) = bytes.get(..SNAPSHOT_HEADER_LEN) else {
        return Err(truncated(SNAPSHOT_HEADER_LEN as u64));
    };
    if fields.get(..SNAPSHOT_MAGIC.len()) != Some(SNAPSHOT_MAGIC.as_slice()) {
        return Err(SnapshotFault::BadMagic);
    }
    let version = read_u32(fields, VERSION_OFFSET);
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotFault::UnsupportedVersion { found: version });
    }
    let body_len = read_u64(fields, BODY_LEN_OFFSET);
    if body_len > SNAPSHOT_BODY_MAX_BYTES as u64 {
        return Err(SnapshotFault::TooLarge { body_len });
    }
    // Bounded above: the addition cannot overflow.
    let body_end = SNAPSHOT_HEADER_LEN + usize::try_from(body_len).unwrap_or(usize::MAX);
    let covered = bytes
        .get(..body_end)
        .ok_or_else(|| truncated(body_end as u64 + SNAPSHOT_TRAILER_LEN as u64))?;
    let stored = bytes
        .get(body_end..body_end + SNAPSHOT_TRAILER_LEN)
        .ok_or_else(|| truncated(body_end as u64 + SNAPSHOT_TRAILER_LEN as u64))?;
    if crc::bytes_crc(covered) != read_u32(stored, 0) {
        return Err(SnapshotFault::ChecksumMismatch);
    }
    check_fields(fields)?;
    let header = SnapshotHeader {
        journal_id: read_u128(fields, JOURNAL_ID_OFFSET),
        snapshot_lsn: read_u64(fields, LSN_OFFSET),
        created_at_ms: read_u64(fields, CREATED_OFFSET),
        body_len,
    };
    let body = covered.get(SNAPSHOT_HEADER_LEN..).unwrap_or_default();
    debug_assert_eq!(body.len() as u64, body_len);
    Ok((header, body))
}

/// The fields a matching checksum does not make plausible on its own.
fn check_fields(fields: &[u8]) -> Result<(), SnapshotFault> {
    if read_u32(fields, HEADER_LEN_OFFSET) as usize != SNAPSHOT_HEADER_LEN {
        return Err(SnapshotFault::BadField {
            field: "header_len",
        });
    }
    if read_u64(fields, RESERVED_OFFSET) != 0 {
        return Err(SnapshotFault::BadField { field: "reserved" });
    }
    if !read_u64(fields, LSN_OFFSET).is_multiple_of(8) {
        return Err(SnapshotFault::BadField {
            field: "snapshot_lsn",
        });
    }
    if read_u128(fields, JOURNAL_ID_OFFSET) == 0 {
        return Err(SnapshotFault::BadField {
            field: "journal_id",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;

    fn sample() -> (SnapshotHeader, Vec<u8>) {
        let mut state = State::default();
        state.apply_entries(&[Entry::push(3, 7, 9), Entry::push(4, 1, -2)]);
        state.end = crate::lsn::Lsn(4096);
        let body = encode_body(&state).unwrap();
        let header = SnapshotHeader {
            journal_id: 0xabc,
            snapshot_lsn: 4096,
            created_at_ms: 1,
            body_len: body.len() as u64,
        };
        (header, body)
    }

    #[test]
    fn round_trip_with_padding() {
        let (header, body) = sample();
        let mut bytes = encode(&header, &body);
        bytes.resize(4096, 0);
        let (h, b) = decode(&bytes).unwrap();
        assert_eq!(h, header);
        let state = decode_body(b).unwrap();
        assert_eq!(state.sources.len(), 2);
        assert_eq!(state.end.0, 4096);
    }

    #[test]
    fn every_bit_flip_is_a_fault() {
        let (header, body) = sample();
        let bytes = encode(&header, &body);
        for bit in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&bad).is_err(), "bit {bit} flipped still decodes");
        }
    }

    #[test]
    fn every_truncation_is_a_fault() {
        let (header, body) = sample();
        let bytes = encode(&header, &body);
        for len in 0..bytes.len() {
            assert!(
                matches!(
                    decode(&bytes[..len]),
                    Err(SnapshotFault::Truncated { .. } | SnapshotFault::BadMagic)
                ),
                "{len}"
            );
        }
    }

    #[test]
    fn huge_body_length_is_refused_before_use() {
        let (header, body) = sample();
        let mut bytes = encode(&header, &body);
        bytes[BODY_LEN_OFFSET..BODY_LEN_OFFSET + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            decode(&bytes),
            Err(SnapshotFault::TooLarge { body_len: u64::MAX })
        );
    }
}
