//! Every bound the crate enforces, in one place (STYLE R9).
//!
//! Each length read from disk is checked against one of these before it is used, so no
//! input file can cause an unbounded allocation or an out-of-bounds read.

use crate::entry::ENTRY_LEN;
use crate::format::frame::FRAME_HEADER_LEN;
use crate::format::segment_header::SEGMENT_HEADER_LEN;

/// Smallest segment file, header included.
pub const SEGMENT_SIZE_MIN_BYTES: u64 = 64 * 1024;
/// Largest segment file, header included (the append tail keeps offsets in 40 bits).
pub const SEGMENT_SIZE_MAX_BYTES: u64 = 1 << 30;
/// Default segment size; see docs/PERFORMANCE.md for the measurement behind it.
pub const SEGMENT_SIZE_DEFAULT_BYTES: u64 = 64 * 1024 * 1024;
/// Segment sizes are whole pages, so msync ranges and the data area stay page-aligned.
pub const SEGMENT_SIZE_ALIGN_BYTES: u64 = 4096;

/// Most entries in one entry-batch frame; larger batches are split into several frames.
pub const BATCH_ENTRIES_MAX: usize = 65_536;
/// Largest encoded checkpoint record.
pub const CHECKPOINT_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Most sources (and watermarks) in one checkpoint: every `source_id` is a `u16`.
pub const CHECKPOINT_SOURCES_MAX: usize = 65_536;
/// Most sinks in one checkpoint.
pub const CHECKPOINT_SINKS_MAX: usize = 65_536;
/// Most operator-state blobs in one checkpoint.
pub const CHECKPOINT_OPERATORS_MAX: usize = 65_536;
/// Largest single operator-state blob.
pub const OPERATOR_STATE_BYTES_MAX: usize = CHECKPOINT_BYTES_MAX;
// Checkpoint coordination (meta frames, src/meta.rs).
/// Largest encoded meta record.
pub const META_RECORD_BYTES_MAX: usize = CHECKPOINT_BYTES_MAX;
/// Longest source, sink, family or cursor name, in bytes.
pub const META_NAME_BYTES_MAX: usize = 256;
/// Longest opaque per-source progress offset, in bytes.
pub const PROGRESS_OFFSET_BYTES_MAX: usize = 1024;
/// Most sources in one progress record (every source id is a `u16`).
pub const PROGRESS_SOURCES_MAX: usize = 65_536;
/// Most registered sources, and most registered sinks (ids are `u16`).
pub const REGISTRY_IDS_MAX: usize = 65_536;

/// Largest frame payload of any kind (padding excluded: it is bounded by the segment).
pub const FRAME_PAYLOAD_MAX_BYTES: usize = CHECKPOINT_BYTES_MAX;

/// Most segment files a directory may hold; more is refused rather than scanned.
pub const SEGMENTS_SCANNED_MAX: usize = 1 << 20;
// Compaction (snapshot files).
/// Largest snapshot body (the encoded state); a larger length read from disk is refused.
pub const SNAPSHOT_BODY_MAX_BYTES: usize = 256 * 1024 * 1024;
/// Most snapshot files a directory may hold; more is refused rather than read.
pub const SNAPSHOTS_LISTED_MAX: usize = 1024;

// Segment summaries (`.sum` files).
/// Most source rows in a segment summary (every `source_id` is a `u16`).
pub const SUMMARY_SOURCES_MAX: usize = 65_536;
/// Most checkpoint and meta frames a segment summary locates; a segment with more is
/// not summarized (open scans it).
pub const SUMMARY_RECORDS_MAX: usize = 65_536;
/// Longest summary file read back (rows at both limits, header, checksum, padding).
pub const SUMMARY_FILE_MAX_BYTES: usize = 6 * 1024 * 1024;

/// Longest lock-holder text read back from the lock file.
pub const LOCK_HOLDER_BYTES_MAX: usize = 512;

const _: () = assert!(SEGMENT_SIZE_MIN_BYTES.is_multiple_of(SEGMENT_SIZE_ALIGN_BYTES));
const _: () = assert!(SEGMENT_SIZE_MAX_BYTES.is_multiple_of(SEGMENT_SIZE_ALIGN_BYTES));
const _: () = assert!(SEGMENT_SIZE_DEFAULT_BYTES.is_multiple_of(SEGMENT_SIZE_ALIGN_BYTES));
const _: () = assert!(SEGMENT_SIZE_MIN_BYTES <= SEGMENT_SIZE_DEFAULT_BYTES);
const _: () = assert!(SEGMENT_SIZE_DEFAULT_BYTES <= SEGMENT_SIZE_MAX_BYTES);
const _: () = assert!(SEGMENT_SIZE_MAX_BYTES < 1 << 40);
const _: () = assert!((SEGMENT_HEADER_LEN as u64) < SEGMENT_SIZE_MIN_BYTES);
const _: () = assert!((SEGMENT_HEADER_LEN as u64).is_multiple_of(SEGMENT_SIZE_ALIGN_BYTES));
// A segment of the smallest size holds at least a one-entry frame and a padding frame.
const _: () = assert!(
    (2 * (FRAME_HEADER_LEN + ENTRY_LEN)) as u64
        <= SEGMENT_SIZE_MIN_BYTES - SEGMENT_HEADER_LEN as u64
);
// A full batch frame fits in a default segment.
const _: () = assert!(
    (FRAME_HEADER_LEN + BATCH_ENTRIES_MAX * ENTRY_LEN) as u64
        <= SEGMENT_SIZE_DEFAULT_BYTES - SEGMENT_HEADER_LEN as u64
);
const _: () = assert!(BATCH_ENTRIES_MAX * ENTRY_LEN <= FRAME_PAYLOAD_MAX_BYTES);
const _: () = assert!(FRAME_PAYLOAD_MAX_BYTES < u32::MAX as usize);
// A snapshot holds at least the last checkpoint record.
const _: () = assert!(CHECKPOINT_BYTES_MAX < SNAPSHOT_BODY_MAX_BYTES);
const _: () = assert!(META_RECORD_BYTES_MAX <= FRAME_PAYLOAD_MAX_BYTES);
const _: () = assert!(REGISTRY_IDS_MAX == u16::MAX as usize + 1);
const _: () = assert!(PROGRESS_SOURCES_MAX <= REGISTRY_IDS_MAX);

// Owner lease.
/// Longest host name recorded in a lease file (longer names are cut).
pub const LEASE_HOST_BYTES_MAX: usize = 255;
