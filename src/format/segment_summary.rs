//! Segment summary file (`{base_lsn:016x}.sum`): what one sealed segment's frames fold
//! to, so open and `cpj inspect` need not read them. Bound to its segment by the
//! journal id, base and end LSN, size and creation time of the segment's header.
//!
//! | offset | size | type    | field                 | meaning                                              |
//! |-------:|-----:|---------|-----------------------|------------------------------------------------------|
//! | 0      | 8    | bytes   | magic                 | `89 43 50 55 0D 0A 1A 0A` (`\x89CPU\r\n\x1a\n`)      |
//! | 8      | 4    | u32 LE  | version               | 1                                                    |
//! | 12     | 4    | u32 LE  | `header_len`          | 96: the source rows start here                       |
//! | 16     | 16   | u128 LE | `journal_id`          | the segment header's journal id                      |
//! | 32     | 8    | u64 LE  | `base_lsn`            | the segment's base LSN (equals the file name)        |
//! | 40     | 8    | u64 LE  | `end_lsn`             | `base_lsn + segment_size_bytes - 4096`               |
//! | 48     | 8    | u64 LE  | `segment_size_bytes`  | the segment header's size                            |
//! | 56     | 8    | u64 LE  | `segment_created_at_ms` | the segment header's creation time                 |
//! | 64     | 8    | u64 LE  | frames                | valid frames in the segment (padding included)       |
//! | 72     | 8    | u64 LE  | entries               | entries in its entry frames                          |
//! | 80     | 8    | u64 LE  | `durable_claim`       | highest durable claim of its frames                  |
//! | 88     | 4    | u32 LE  | `source_count`        | rows of 64 bytes (≤ `SUMMARY_SOURCES_MAX`)           |
//! | 92     | 4    | u32 LE  | `record_count`        | rows of 16 bytes (≤ `SUMMARY_RECORDS_MAX`)           |
//! | 96     | 64·s | rows    | sources               | per source, increasing `source_id` (below)           |
//! | …      | 16·r | rows    | records               | every checkpoint and meta frame, increasing LSN      |
//! | …      | 4    | u32 LE  | crc                   | CRC32C (seed 0) of every byte before it              |
//! | …      | …    | zero    | padding               | to the file's length (whole pages)                   |
//!
//! Source row: `{ source_id u16 | flags u16 | reserved u32 | entries u64 | first_sequence u64
//! | last_sequence u64 | last_barrier u64 | min_watermark i64 | max_watermark i64
//! | last_watermark i64 }`; flags bit 0: the source has a push or barrier entry (the
//! sequences are set), bit 1: a barrier (`last_barrier` is set); unset values are 0.
//! Record row: `{ lsn u64 | len u32 | kind u8 | reserved [3] }`, `kind` 2 or 4.

use crate::format::frame::{frame_len, FrameKind};
use crate::format::limits::{
    FRAME_PAYLOAD_MAX_BYTES, SUMMARY_FILE_MAX_BYTES, SUMMARY_RECORDS_MAX, SUMMARY_SOURCES_MAX,
};
use crate::format::{crc, read_u128, read_u32, read_u64};

/// PNG-style magic of a summary file (a segment's fourth byte is `J`, a snapshot's `S`).
pub const SUMMARY_MAGIC: [u8; 8] = *b"\x89CPU\r\n\x1a\n";
/// Version of the summary layout written by this build.
pub const SUMMARY_VERSION: u32 = 1;
/// Bytes before the source rows.
pub const SUMMARY_HEADER_LEN: usize = SUMMARY_HEADER_LEN_U32 as usize;
const SUMMARY_HEADER_LEN_U32: u32 = 96;
/// Bytes of one source row.
pub const SOURCE_ROW_LEN: usize = 64;
/// Bytes of one record row.
pub const RECORD_ROW_LEN: usize = 16;
/// Bytes after the rows (the checksum).
pub const SUMMARY_TRAILER_LEN: usize = size_of::<u32>();

const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + SUMMARY_MAGIC.len();
const HEADER_LEN_OFFSET: usize = VERSION_OFFSET + size_of::<u32>();
const JOURNAL_ID_OFFSET: usize = HEADER_LEN_OFFSET + size_of::<u32>();
const BASE_OFFSET: usize = JOURNAL_ID_OFFSET + size_of::<u128>();
const END_OFFSET: usize = BASE_OFFSET + size_of::<u64>();
const SIZE_OFFSET: usize = END_OFFSET + size_of::<u64>();
const CREATED_OFFSET: usize = SIZE_OFFSET + size_of::<u64>();
const FRAMES_OFFSET: usize = CREATED_OFFSET + size_of::<u64>();
const ENTRIES_OFFSET: usize = FRAMES_OFFSET + size_of::<u64>();
const CLAIM_OFFSET: usize = ENTRIES_OFFSET + size_of::<u64>();
const SOURCE_COUNT_OFFSET: usize = CLAIM_OFFSET + size_of::<u64>();
const RECORD_COUNT_OFFSET: usize = SOURCE_COUNT_OFFSET + size_of::<u32>();
const HEADER_END: usize = RECORD_COUNT_OFFSET + size_of::<u32>();

const FLAG_SEQUENCE: u16 = 1;
const FLAG_BARRIER: u16 = 2;

const _: () = assert!(HEADER_END == SUMMARY_HEADER_LEN);
const _: () = assert!(SUMMARY_HEADER_LEN.is_multiple_of(8));
const _: () = assert!(
    SUMMARY_HEADER_LEN
        + SUMMARY_SOURCES_MAX * SOURCE_ROW_LEN
        + SUMMARY_RECORDS_MAX * RECORD_ROW_LEN
        + SUMMARY_TRAILER_LEN
        <= SUMMARY_FILE_MAX_BYTES
);

/// What one sealed segment's frames fold to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentSummary {
    /// The segment header's journal id.
    pub journal_id: u128,
    /// The segment's base LSN.
    pub base_lsn: u64,
    /// LSN just past the segment's data area.
    pub end_lsn: u64,
    /// The segment header's file size.
    pub segment_size_bytes: u64,
    /// The segment header's creation time.
    pub segment_created_at_ms: u64,
    /// Valid frames, padding included.
    pub frames: u64,
    /// Entries in the entry frames.
    pub entries: u64,
    /// Highest durable claim of the segment's frames.
    pub durable_claim: u64,
    /// Per source, increasing `source_id`; only sources with entries.
    pub sources: Vec<SourceSummary>,
    /// Every checkpoint and meta frame, increasing LSN.
    pub records: Vec<RecordLocation>,
}

/// One source's entries in a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceSummary {
    /// The source.
    pub source_id: u16,
    /// Entries of the source (at least 1).
    pub entries: u64,
    /// `(first, last)` sequence of its push and barrier entries, if it has any.
    pub sequences: Option<(u64, u64)>,
    /// Sequence of its last barrier entry, if any.
    pub last_barrier: Option<u64>,
    /// Lowest watermark of its entries.
    pub min_watermark: i64,
    /// Highest watermark of its entries.
    pub max_watermark: i64,
    /// Watermark of its last entry.
    pub last_watermark: i64,
}

/// Where a checkpoint or meta frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordLocation {
    /// The frame's LSN.
    pub lsn: u64,
    /// Its payload length.
    pub len: u32,
    /// [`FrameKind::Checkpoint`] or [`FrameKind::Meta`].
    pub kind: FrameKind,
}

/// Why bytes are not a valid summary file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SummaryFault {
    /// Shorter than the header, or than the rows and checksum it announces.
    Truncated {
        /// Bytes present.
        found: u64,
        /// Bytes needed.
        needed: u64,
    },
    /// Not a summary file.
    BadMagic,
    /// A layout version this build does not read.
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
    },
    /// More rows (or bytes) than the limits allow.
    TooLarge {
        /// What is too large.
        what: &'static str,
        /// Its value.
        found: u64,
    },
    /// The checksum does not match.
    ChecksumMismatch,
    /// A field holds an impossible value.
    BadField {
        /// Which field.
        field: &'static str,
    },
}

impl std::fmt::Display for SummaryFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SummaryFault::Truncated { found, needed } => {
                write!(f, "truncated: {found} bytes, {needed} needed")
            }
            SummaryFault::BadMagic => write!(f, "not a summary file (bad magic)"),
            SummaryFault::UnsupportedVersion { found } => write!(
                f,
                "summary version {found}, this build reads version {SUMMARY_VERSION}"
            ),
            SummaryFault::TooLarge { what, found } => write!(f, "{what} of {found} over the limit"),
            SummaryFault::ChecksumMismatch => write!(f, "checksum mismatch"),
            SummaryFault::BadField { field } => write!(f, "impossible value in `{field}`"),
        }
    }
}

impl std::error::Error for SummaryFault {}

// Format: { magic [8] | version u32 | header_len u32 | journal_id u128 | base_lsn u64
//           | end_lsn u64 | segment_size_bytes u64 | segment_created_at_ms u64 | frames u64
//           | entries u64 | durable_claim u64 | source_count u32 | record_count u32 }
//         sources[source_count] records[record_count] crc u32
/// The file bytes of `summary` (without page padding).
///
/// # Errors
/// [`SummaryFault::TooLarge`] past the row limits (such a summary is not written).
pub fn encode(summary: &SegmentSummary) -> Result<Vec<u8>, SummaryFault> {
    let too_large = |what, found: usize| SummaryFault::TooLarge {
        what,
        found: found as u64,
    };
    if summary.sources.len() > SUMMARY_SOURCES_MAX {
        return Err(too_large("source rows", summary.sources.len()));
    }
    if summary.records.len() > SUMMARY_RECORDS_MAX {
        return Err(too_large("record rows", summary.records.len()));
    }
    let rows = summary.sources.len() * SOURCE_ROW_LEN + summary.records.len() * RECORD_ROW_LEN;
    let mut out = Vec::with_capacity(SUMMARY_HEADER_LEN + rows + SUMMARY_TRAILER_LEN);
    out.extend_from_slice(&SUMMARY_MAGIC);
    out.extend_from_slice(&SUMMARY_VERSION.to_le_bytes());
    out.extend_from_slice(&SUMMARY_HEADER_LEN_U32.to_le_bytes());
    out.extend_from_slice(&summary.journal_id.to_le_bytes());
    for v in [
        summary.base_lsn,
        summary.end_lsn,
        summary.segment_size_bytes,
        summary.segment_created_at_ms,
        summary.frames,
        summary.entries,
        summary.durable_claim,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    // Both counts fit: they are at most the limits checked above.
    out.extend_from_slice(
        &u32::try_from(summary.sources.len())
            .unwrap_or(0)
            .to_le_bytes(),
    );
    out.extend_from_slice(
        &u32::try_from(summary.records.len())
            .unwrap_or(0)
            .to_le_bytes(),
    );
    debug_assert_eq!(out.len(), SUMMARY_HEADER_LEN);
    for s in &summary.sources {
        encode_source(s, &mut out);
    }
    for r in &summary.records {
        out.extend_from_slice(&r.lsn.to_le_bytes());
        out.extend_from_slice(&r.len.to_le_bytes());
        out.extend_from_slice(&[u8::from(r.kind), 0, 0, 0]);
    }
    let crc = crc::bytes_crc(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len(), SUMMARY_HEADER_LEN + rows + SUMMARY_TRAILER_LEN);
    Ok(out)
}

// Format: { source_id u16 | flags u16 | reserved u32 | entries u64 | first_sequence u64
//           | last_sequence u64 | last_barrier u64 | min_watermark i64 | max_watermark i64
//           | last_watermark i64 }
fn encode_source(s: &SourceSummary, out: &mut Vec<u8>) {
    let mut flags = 0u16;
    if s.sequences.is_some() {
        flags |= FLAG_SEQUENCE;
    }
    if s.last_barrier.is_some() {
        flags |= FLAG_BARRIER;
    }
    let (first, last) = s.sequences.unwrap_or((0, 0));
    out.extend_from_slice(&s.source_id.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for v in [s.entries, first, last, s.last_barrier.unwrap_or(0)] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [s.min_watermark, s.max_watermark, s.last_watermark] {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Validates a summary file's bytes (trailing zero padding allowed) and decodes it. The
/// binding to a segment is the caller's to check.
///
/// # Errors
/// The first [`SummaryFault`] found.
pub fn decode(bytes: &[u8]) -> Result<SegmentSummary, SummaryFault> {
    let truncated = |needed: usize| SummaryFault::Truncated {
        found: bytes.len() as u64,
        needed: needed as u64,
    };
    if bytes.len() > SUMMARY_FILE_MAX_BYTES {
        return Err(SummaryFault::TooLarge {
            what: "file bytes",
            found: bytes.len() as u64,
        });
    }
    if bytes.len() < SUMMARY_HEADER_LEN {
        return Err(truncated(SUMMARY_HEADER_LEN));
    }
    if bytes.get(..SUMMARY_MAGIC.len()) != Some(&SUMMARY_MAGIC[..]) {
        return Err(SummaryFault::BadMagic);
    }
    let version = read_u32(bytes, VERSION_OFFSET);
    if version != SUMMARY_VERSION {
        return Err(SummaryFault::UnsupportedVersion { found: version });
    }
    if read_u32(bytes, HEADER_LEN_OFFSET) != SUMMARY_HEADER_LEN_U32 {
        return Err(SummaryFault::BadField {
            field: "header_len",
        });
    }
    let sources = read_u32(bytes, SOURCE_COUNT_OFFSET) as usize;
    let records = read_u32(bytes, RECORD_COUNT_OFFSET) as usize;
    if sources > SUMMARY_SOURCES_MAX {
        return Err(SummaryFault::TooLarge {
            what: "source rows",
            found: sources as u64,
        });
    }
    if records > SUMMARY_RECORDS_MAX {
        return Err(SummaryFault::TooLarge {
            what: "record rows",
            found: records as u64,
        });
    }
    let crc_at = SUMMARY_HEADER_LEN + sources * SOURCE_ROW_LEN + records * RECORD_ROW_LEN;
    let body = bytes
        .get(..crc_at)
        .ok_or(truncated(crc_at + SUMMARY_TRAILER_LEN))?;
    if bytes.len() < crc_at + SUMMARY_TRAILER_LEN {
        return Err(truncated(crc_at + SUMMARY_TRAILER_LEN));
    }
    if read_u32(bytes, crc_at) != crc::bytes_crc(body) {
        return Err(SummaryFault::ChecksumMismatch);
    }
    let summary = decode_fields(body, sources, records)?;
    check(&summary)?;
    Ok(summary)
}

/// The fields of checksummed bytes announcing `sources` and `records` rows.
fn decode_fields(
    body: &[u8],
    sources: usize,
    records: usize,
) -> Result<SegmentSummary, SummaryFault> {
    let mut summary = SegmentSummary {
        journal_id: read_u128(body, JOURNAL_ID_OFFSET),
        base_lsn: read_u64(body, BASE_OFFSET),
        end_lsn: read_u64(body, END_OFFSET),
        segment_size_bytes: read_u64(body, SIZE_OFFSET),
        segment_created_at_ms: read_u64(body, CREATED_OFFSET),
        frames: read_u64(body, FRAMES_OFFSET),
        entries: read_u64(body, ENTRIES_OFFSET),
        durable_claim: read_u64(body, CLAIM_OFFSET),
        sources: Vec::with_capacity(sources),
        records: Vec::with_capacity(records),
    };
    for i in 0..sources {
        summary.sources.push(decode_source(
            body,
            SUMMARY_HEADER_LEN + i * SOURCE_ROW_LEN,
        )?);
    }
    let records_at = SUMMARY_HEADER_LEN + sources * SOURCE_ROW_LEN;
    for i in 0..records {
        let at = records_at + i * RECORD_ROW_LEN;
        let kind_word = read_u32(body, at + 12);
        let kind = FrameKind::try_from((kind_word & 0xff) as u8)
            .ok()
            .filter(|k| matches!(k, FrameKind::Checkpoint | FrameKind::Meta))
            .ok_or(SummaryFault::BadField {
                field: "record kind",
            })?;
        if kind_word >> 8 != 0 {
            return Err(SummaryFault::BadField {
                field: "record reserved",
            });
        }
        summary.records.push(RecordLocation {
            lsn: read_u64(body, at),
            len: read_u32(body, at + 8),
            kind,
        });
    }
    Ok(summary)
}

fn decode_source(body: &[u8], at: usize) -> Result<SourceSummary, SummaryFault> {
    let bad = |field| SummaryFault::BadField { field };
    let word = read_u64(body, at);
    let source_id = (word & 0xffff) as u16;
    let flags = ((word >> 16) & 0xffff) as u16;
    if word >> 32 != 0 {
        return Err(bad("source reserved"));
    }
    if flags & !(FLAG_SEQUENCE | FLAG_BARRIER) != 0 {
        return Err(bad("source flags"));
    }
    let (first, last, barrier) = (
        read_u64(body, at + 16),
        read_u64(body, at + 24),
        read_u64(body, at + 32),
    );
    let has_sequence = flags & FLAG_SEQUENCE != 0;
    let has_barrier = flags & FLAG_BARRIER != 0;
    if (!has_sequence && (first | last) != 0) || (!has_barrier && barrier != 0) {
        return Err(bad("source sequences"));
    }
    if has_barrier && !has_sequence {
        return Err(bad("source flags"));
    }
    let watermark = |off: usize| i64::from_le_bytes(read_u64(body, at + off).to_le_bytes());
    Ok(SourceSummary {
        source_id,
        entries: read_u64(body, at + 8),
        sequences: has_sequence.then_some((first, last)),
        last_barrier: has_barrier.then_some(barrier),
        min_watermark: watermark(40),
        max_watermark: watermark(48),
        last_watermark: watermark(56),
    })
}

/// The relations every summary this build writes holds.
fn check(s: &SegmentSummary) -> Result<(), SummaryFault> {
    let bad = |field| Err(SummaryFault::BadField { field });
    if !s.base_lsn.is_multiple_of(8) || s.end_lsn <= s.base_lsn || !s.end_lsn.is_multiple_of(8) {
        return bad("lsn range");
    }
    if s.durable_claim > s.end_lsn {
        return bad("durable_claim");
    }
    if s.frames < s.records.len() as u64 {
        return bad("frames");
    }
    let mut total = 0u64;
    let mut previous: Option<u16> = None;
    for src in &s.sources {
        if previous.is_some_and(|p| p >= src.source_id) {
            return bad("source order");
        }
        previous = Some(src.source_id);
        let ordered =
            src.min_watermark <= src.last_watermark && src.last_watermark <= src.max_watermark;
        if src.entries == 0 || !ordered {
            return bad("source row");
        }
        total = total.saturating_add(src.entries);
    }
    if total != s.entries {
        return bad("entries");
    }
    let mut next_free = s.base_lsn;
    for r in &s.records {
        let len = r.len as usize;
        if r.lsn < next_free
            || !r.lsn.is_multiple_of(8)
            || len == 0
            || len > FRAME_PAYLOAD_MAX_BYTES
        {
            return bad("record row");
        }
        next_free = r.lsn.saturating_add(frame_len(len) as u64);
        if next_free > s.end_lsn {
            return bad("record row");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
