//! The archive manifest: what a restore needs (the segments, in LSN order, with their
//! sizes and CRC32C checksums) and who may advance it (epoch and writer id).
//!
//! Format: { magic [8] | version u32 | `body_len` u32 | `body_crc32c` u32 | reserved u32 } body
//!
//! | offset | size | type | field | meaning |
//! |---:|---:|---|---|---|
//! | 0 | 8 | bytes | magic | `89 43 50 4A 4D 41 4E 0A` = `\x89CPJMAN\n` |
//! | 8 | 4 | u32 | version | 1 |
//! | 12 | 4 | u32 | `body_len` | bytes after the header, ≤ `MANIFEST_BYTES_MAX` − 24 |
//! | 16 | 4 | u32 | `body_crc32c` | CRC32C of the body (plain `crc32c`, no seed) |
//! | 20 | 4 | u32 | reserved | 0 |
//! | 24 | `body_len` | postcard | body | [`Manifest`] |
//!
//! Invariants checked on decode: segments contiguous (`end` of one = `base` of the
//! next), each `end > base`, at most `SEGMENTS_MAX` of them, sizes within the segment
//! bounds; snapshots in increasing LSN order, at most `SNAPSHOTS_MAX`, each inside the
//! archived segments' range (a restore from it finds the segment holding its LSN); no
//! trailing bytes.

use serde::{Deserialize, Serialize};

use crate::format::limits::{SEGMENT_SIZE_MAX_BYTES, SEGMENT_SIZE_MIN_BYTES};

const MAGIC: [u8; 8] = *b"\x89CPJMAN\n";
const VERSION: u32 = 1;
const MAGIC_LEN: usize = MAGIC.len();
const VERSION_OFFSET: usize = MAGIC_LEN;
const BODY_LEN_OFFSET: usize = VERSION_OFFSET + size_of::<u32>();
const CRC_OFFSET: usize = BODY_LEN_OFFSET + size_of::<u32>();
const RESERVED_OFFSET: usize = CRC_OFFSET + size_of::<u32>();
const HEADER_LEN: usize = RESERVED_OFFSET + size_of::<u32>();
/// The largest manifest object read or written.
pub(crate) const MANIFEST_BYTES_MAX: usize = 4 << 20;
/// The most segments one manifest lists.
pub(crate) const SEGMENTS_MAX: usize = 65_536;
/// The most snapshots one manifest lists.
pub(crate) const SNAPSHOTS_MAX: usize = 64;
/// The largest snapshot object: header, largest body, trailer, page padding.
pub(crate) const SNAPSHOT_BYTES_MAX: u64 = (crate::format::snapshot_file::SNAPSHOT_HEADER_LEN
    + crate::format::limits::SNAPSHOT_BODY_MAX_BYTES
    + crate::format::snapshot_file::SNAPSHOT_TRAILER_LEN
    + 4096) as u64;

const _: () = assert!(HEADER_LEN == 24);
// A full list of segment references fits the size bound with room to spare.
const _: () = assert!(SEGMENTS_MAX * 48 + SNAPSHOTS_MAX * 48 < MANIFEST_BYTES_MAX - HEADER_LEN);

/// One archived segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRef {
    /// The segment's base LSN.
    pub base_lsn: u64,
    /// The next segment's base LSN.
    pub end_lsn: u64,
    /// The epoch of the writer that uploaded it (part of its key).
    pub epoch: u64,
    /// The object's length: the segment file's length.
    pub bytes: u64,
    /// CRC32C of the whole object.
    pub crc32c: u32,
}

/// One archived snapshot file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    /// The snapshot's LSN (its file name).
    pub lsn: u64,
    /// The epoch of the writer that uploaded it (part of its key).
    pub epoch: u64,
    /// The object's length.
    pub bytes: u64,
    /// CRC32C of the whole object.
    pub crc32c: u32,
}

/// The current state of an archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The archived journal's identity.
    pub journal_id: u128,
    /// Raised by every writer that takes the archive over; never lowered.
    pub epoch: u64,
    /// The random id of the writer that owns `epoch`.
    pub writer_id: u128,
    /// Raised by every update.
    pub sequence: u64,
    /// When this version was written (Unix ms).
    pub updated_at_ms: u64,
    /// Archived snapshots, oldest first (a restore tries the newest first).
    pub snapshots: Vec<SnapshotRef>,
    /// Archived segments, contiguous, in LSN order.
    pub segments: Vec<SegmentRef>,
}

impl Manifest {
    /// An empty manifest for a journal.
    #[must_use]
    pub fn new(journal_id: u128, epoch: u64, writer_id: u128) -> Manifest {
        Manifest {
            journal_id,
            epoch,
            writer_id,
            sequence: 0,
            updated_at_ms: crate::segment::now_ms(),
            snapshots: Vec::new(),
            segments: Vec::new(),
        }
    }

    /// LSN just past the last archived segment (`None` when nothing is archived).
    #[must_use]
    pub fn end_lsn(&self) -> Option<u64> {
        self.segments.last().map(|s| s.end_lsn)
    }

    /// Encodes header and body.
    ///
    /// Format: { magic [8] | version u32 | `body_len` u32 | `body_crc32c` u32 | reserved u32 } body
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let body = postcard::to_allocvec(self).unwrap_or_default();
        debug_assert!(!body.is_empty());
        debug_assert!(body.len() <= MANIFEST_BYTES_MAX - HEADER_LEN);
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decodes and validates a manifest object.
    ///
    /// # Errors
    /// A text naming the first check that failed.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, String> {
        if bytes.len() > MANIFEST_BYTES_MAX {
            return Err(format!(
                "{} bytes, over the limit of {MANIFEST_BYTES_MAX}",
                bytes.len()
            ));
        }
        let field = |at: usize| -> Result<u32, String> {
            bytes
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| format!("truncated header ({} bytes)", bytes.len()))
        };
        if bytes.get(..MAGIC_LEN) != Some(&MAGIC[..]) {
            return Err("bad magic: not a checkpoint-journal manifest".into());
        }
        let version = field(VERSION_OFFSET)?;
        if version != VERSION {
            return Err(format!(
                "version {version}, this build reads version {VERSION}"
            ));
        }
        let body_len = field(BODY_LEN_OFFSET)? as usize;
        let body = bytes
            .get(HEADER_LEN..)
            .filter(|b| b.len() == body_len)
            .ok_or_else(|| format!("body of {} bytes, header says {body_len}", bytes.len()))?;
        if crc32c::crc32c(body) != field(CRC_OFFSET)? {
            return Err("body checksum mismatch".into());
        }
        if field(RESERVED_OFFSET)? != 0 {
            return Err("reserved header field is not zero".into());
        }
        let (manifest, rest) = postcard::take_from_bytes::<Manifest>(body)
            .map_err(|e| format!("body does not decode: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("{} trailing bytes after the body", rest.len()));
        }
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<(), String> {
        self.validate_segments()?;
        if self.snapshots.len() > SNAPSHOTS_MAX {
            return Err(format!(
                "{} snapshots, over the limit of {SNAPSHOTS_MAX}",
                self.snapshots.len()
            ));
        }
        let range = self.segments.first().map(|s| s.base_lsn)..=self.end_lsn();
        for s in &self.snapshots {
            if s.bytes > SNAPSHOT_BYTES_MAX || s.lsn % 8 != 0 {
                return Err(format!("snapshot at LSN {} has a bad size or LSN", s.lsn));
            }
            if !self.segments.is_empty() && !range.contains(&Some(s.lsn)) {
                return Err(format!(
                    "snapshot at LSN {} is outside the archived segments",
                    s.lsn
                ));
            }
        }
        if self
            .snapshots
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.lsn >= b.lsn))
        {
            return Err("snapshots not in increasing LSN order".into());
        }
        Ok(())
    }

    fn validate_segments(&self) -> Result<(), String> {
        if self.segments.len() > SEGMENTS_MAX {
            return Err(format!(
                "{} segments, over the limit of {SEGMENTS_MAX}",
                self.segments.len()
            ));
        }
        for s in &self.segments {
            if s.end_lsn <= s.base_lsn || s.base_lsn % 8 != 0 {
                return Err(format!("segment at LSN {} has a bad range", s.base_lsn));
            }
            if !(SEGMENT_SIZE_MIN_BYTES..=SEGMENT_SIZE_MAX_BYTES).contains(&s.bytes) {
                return Err(format!(
                    "segment at LSN {} has a bad size {}",
                    s.base_lsn, s.bytes
                ));
            }
        }
        for pair in self.segments.windows(2) {
            if let [a, b] = pair {
                if a.end_lsn != b.base_lsn {
                    return Err(format!("segments not contiguous at LSN {}", a.end_lsn));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut m = Manifest::new(0xabc, 2, 0x77);
        for i in 0..3u64 {
            m.segments.push(SegmentRef {
                base_lsn: i * 61_440,
                end_lsn: (i + 1) * 61_440,
                epoch: 2,
                bytes: 65_536,
                crc32c: 9,
            });
        }
        m.snapshots.push(SnapshotRef {
            lsn: 70_000,
            epoch: 2,
            bytes: 8192,
            crc32c: 3,
        });
        m
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error_not_a_panic() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(
                Manifest::decode(&bytes[..len]).is_err(),
                "truncated to {len}"
            );
        }
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(Manifest::decode(&b).is_err(), "bit {i}");
        }
    }

    #[test]
    fn a_gap_between_segments_is_refused() {
        let mut m = sample();
        m.segments[1].base_lsn += 8;
        let err = Manifest::decode(&m.encode()).unwrap_err();
        assert!(err.contains("not contiguous"), "{err}");
    }

    #[test]
    fn a_snapshot_outside_the_segments_is_refused() {
        let mut m = sample();
        m.snapshots[0].lsn = 4 * 61_440;
        let err = Manifest::decode(&m.encode()).unwrap_err();
        assert!(err.contains("outside"), "{err}");
    }
}
