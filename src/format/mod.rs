//! The on-disk format: encode, decode and validate, nothing else (docs/FORMAT.md is the
//! normative spec; each submodule opens with its byte table).

pub mod crc;
pub mod frame;
pub mod limits;
pub mod segment_header;
// Compaction.
pub mod snapshot_file;

/// Version of the segment and frame layout written by this build.
///
/// Version history: 1, the first format (this crate 0.1).
pub const FORMAT_VERSION: u32 = 1;

/// PNG-style magic at the start of every segment: a high byte (detects 7-bit transfers),
/// the name, CR LF (detects line-ending conversion), ^Z (stops `type` on DOS), LF.
pub const SEGMENT_MAGIC: [u8; 8] = *b"\x89CPJ\r\n\x1a\n";
