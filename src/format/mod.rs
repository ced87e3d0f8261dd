//! The on-disk format: encode, decode and validate, nothing else (docs/FORMAT.md is the
//! normative spec; each submodule opens with its byte table).

// Clean shutdown (`journal.clean`).
pub mod clean_file;
pub mod crc;
pub mod frame;
pub mod limits;
// Owner lease.
pub mod lease_file;
pub mod segment_header;
// Segment summaries.
pub mod segment_summary;
// Compaction.
pub mod snapshot_file;
// Live stats for other processes (`cpj stats`).
pub mod stats_file;

/// Version of the segment and frame layout written by this build.
///
/// Version history: 1, the first format (this crate 0.1); 2 adds meta frames (kind 4:
/// checkpoint coordination records); 3 adds the segment header's `flags` and
/// `previous_base_lsn` (segment recycling). Readers accept every version from
/// [`FORMAT_VERSION_MIN_READ`]; new segments are always written at [`FORMAT_VERSION`].
pub const FORMAT_VERSION: u32 = 3;

/// The oldest format version this build reads.
pub const FORMAT_VERSION_MIN_READ: u32 = 1;

const _: () = assert!(FORMAT_VERSION_MIN_READ <= FORMAT_VERSION);

/// PNG-style magic at the start of every segment: a high byte (detects 7-bit transfers),
/// the name, CR LF (detects line-ending conversion), ^Z (stops `type` on DOS), LF.
pub const SEGMENT_MAGIC: [u8; 8] = *b"\x89CPJ\r\n\x1a\n";

/// Little-endian reads at a byte offset of a header. Bytes past the end read as zero:
/// callers check the length first and the checksum catches anything else.
fn read_le<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    if let Some(src) = at.checked_add(N).and_then(|end| bytes.get(at..end)) {
        b.copy_from_slice(src);
    }
    b
}

/// See [`read_le`].
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(read_le(bytes, at))
}

/// See [`read_le`].
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(read_le(bytes, at))
}

/// See [`read_le`].
fn read_u128(bytes: &[u8], at: usize) -> u128 {
    u128::from_le_bytes(read_le(bytes, at))
}
