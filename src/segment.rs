//! Segment lifecycle: the file name ↔ base LSN mapping, creation (blocks allocated
//! before the mapping exists, header made durable before the file is used), opening
//! with header validation, and the data area as words.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Corruption, CorruptionKind, Error, Result};
use crate::format::segment_header::{
    peek_version, HeaderFault, SegmentHeader, SEGMENT_HEADER_FIELDS_LEN, SEGMENT_HEADER_LEN,
};
use crate::format::FORMAT_VERSION;
use crate::lsn::Lsn;
use crate::storage::{MappedFile, SharedWord, Storage, Words};
use crate::sync::{Arc, Ordering};

/// Segment files are named `{base_lsn:016x}.seg`.
pub(crate) const SEGMENT_SUFFIX: &str = ".seg";
/// A retired segment kept for recycling: `{old_base_lsn:016x}.seg.free`. Never read as
/// a segment; removed at open (a crash can leave one at any step of recycling).
pub(crate) const FREE_SUFFIX: &str = ".seg.free";
const HEADER_WORDS: usize = SEGMENT_HEADER_LEN / 8;

/// The operation named by the error of a failed header msync at creation.
pub(crate) const OP_HEADER_SYNC: &str = "msync segment header";
/// The operation named by the error of a failed directory fsync at creation.
pub(crate) const OP_DIR_SYNC: &str = "fsync directory";

/// Whether `err` is a failed sync (after which the kernel may have dropped the data, so
/// the journal must poison itself), as opposed to a clean failure to create the file.
pub(crate) fn is_sync_failure(err: &Error) -> bool {
    matches!(err, Error::Io { op, .. } if *op == OP_HEADER_SYNC || *op == OP_DIR_SYNC)
}

/// One mapped segment file.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    pub(crate) header: SegmentHeader,
    file: Arc<dyn MappedFile>,
}

/// A segment compaction retires, named by its file: the segment itself (its mapping) is
/// dropped before the file is removed or kept for recycling.
#[derive(Debug)]
pub(crate) struct Retiring {
    pub(crate) path: PathBuf,
    pub(crate) base: u64,
    pub(crate) size_bytes: u64,
}

impl Segment {
    /// Creates, allocates and maps a new segment, and makes its header durable.
    pub(crate) fn create(
        storage: &dyn Storage,
        dir: &Path,
        journal_id: u128,
        base_lsn: u64,
        size_bytes: u64,
    ) -> Result<Segment> {
        let path = dir.join(file_name(base_lsn));
        let _span =
            tracing::debug_span!("segment_create", path = %path.display(), base_lsn).entered();
        let file = storage.create_mapped(&path, size_bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::StorageFull {
                Error::StorageFull {
                    path: path.clone(),
                    bytes: size_bytes,
                }
            } else {
                Error::io(&path, "create segment", e)
            }
        })?;
        let header = SegmentHeader {
            format_version: FORMAT_VERSION,
            journal_id,
            base_lsn,
            segment_size_bytes: size_bytes,
            created_at_ms: now_ms(),
            recycled_from: None,
        };
        store_header(file.words(), &header);
        file.sync_range(0, SEGMENT_HEADER_LEN)
            .map_err(|e| Error::io(&path, OP_HEADER_SYNC, e))?;
        storage
            .sync_dir(dir)
            .map_err(|e| Error::io(dir, OP_DIR_SYNC, e))?;
        Ok(Segment { path, header, file })
    }

    /// Makes the retired segment file `free` (named by [`free_name`], its old base
    /// `previous_base`) the segment at `base`: zeroes every non-zero data word, writes a
    /// version-3 header naming `previous_base`, syncs the whole file, renames it to the
    /// segment name and syncs the directory. Until the rename the file keeps its free
    /// name, which open removes; after it, the file is an empty segment whose zeroes
    /// are durable, exactly as a new one. `Ok(None)` if the file does not have the
    /// segment size (the caller removes it and creates a new segment).
    pub(crate) fn recycle(
        storage: &dyn Storage,
        dir: &Path,
        free: &Path,
        previous_base: u64,
        (journal_id, base_lsn, size_bytes): (u128, u64, u64),
    ) -> Result<Option<Segment>> {
        let path = dir.join(file_name(base_lsn));
        let _span =
            tracing::debug_span!("segment_recycle", from = %free.display(), path = %path.display())
                .entered();
        let file = storage
            .open_mapped(free)
            .map_err(|e| Error::io(free, "map segment to recycle", e))?;
        if (file.words().len() * 8) as u64 != size_bytes || previous_base >= base_lsn {
            return Ok(None);
        }
        let words = file.words();
        let mut at = HEADER_WORDS;
        while let Some(found) = crate::recovery::next_non_zero(words, at) {
            words.store(found, 0, Ordering::Relaxed);
            at = found + 1;
        }
        let header = SegmentHeader {
            format_version: FORMAT_VERSION,
            journal_id,
            base_lsn,
            segment_size_bytes: size_bytes,
            created_at_ms: now_ms(),
            recycled_from: Some(previous_base),
        };
        store_header(words, &header);
        file.sync_range(0, words.len() * 8)
            .map_err(|e| Error::io(free, "msync recycled segment", e))?;
        storage
            .rename(free, &path)
            .map_err(|e| Error::io(free, "rename recycled segment", e))?;
        storage
            .sync_dir(dir)
            .map_err(|e| Error::io(dir, OP_DIR_SYNC, e))?;
        Ok(Some(Segment { path, header, file }))
    }

    /// Maps an existing segment and validates its header against `expected_id` (if known)
    /// and its file name.
    pub(crate) fn open(
        storage: &dyn Storage,
        path: &Path,
        name_base: u64,
        expected_id: Option<u128>,
        writable: bool,
    ) -> Result<Segment> {
        let file = if writable {
            storage.open_mapped(path)
        } else {
            storage.open_mapped_readonly(path)
        }
        .map_err(|e| Error::io(path, "map segment", e))?;
        let corrupt = |kind| {
            Error::Corrupted(Corruption {
                path: path.to_owned(),
                lsn: Lsn(name_base),
                offset: 0,
                kind,
            })
        };
        let bytes = header_bytes(file.words());
        let header = match SegmentHeader::decode(&bytes) {
            Ok(h) => h,
            Err(HeaderFault::UnsupportedVersion { found }) => {
                return Err(Error::UpgradeRequired {
                    path: path.to_owned(),
                    found,
                    supported: FORMAT_VERSION,
                })
            }
            Err(fault) => {
                if let Some(found) = peek_version(&bytes)
                    .filter(|v| *v > FORMAT_VERSION && fault == HeaderFault::ChecksumMismatch)
                {
                    return Err(Error::UpgradeRequired {
                        path: path.to_owned(),
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
                return Err(corrupt(CorruptionKind::SegmentHeader(fault)));
            }
        };
        if let Some(expected) = expected_id.filter(|id| *id != header.journal_id) {
            return Err(Error::ForeignJournal {
                path: path.to_owned(),
                expected,
                found: header.journal_id,
            });
        }
        if header.base_lsn != name_base {
            return Err(corrupt(CorruptionKind::Inconsistent(
                "file name and header disagree on the base LSN",
            )));
        }
        if (file.words().len() * 8) as u64 != header.segment_size_bytes {
            return Err(corrupt(CorruptionKind::Inconsistent(
                "file length differs from the header's segment size",
            )));
        }
        Ok(Segment {
            path: path.to_owned(),
            header,
            file,
        })
    }

    /// Whether the header in the mapping no longer is the one this segment was opened
    /// with: the file was recycled (another process's compaction) under this mapping.
    pub(crate) fn header_changed(&self) -> bool {
        SegmentHeader::decode(&header_bytes(self.file.words())) != Ok(self.header)
    }

    pub(crate) fn base(&self) -> u64 {
        self.header.base_lsn
    }

    /// What retiring the file needs once the segment (and its mapping) is dropped.
    pub(crate) fn retiring(&self) -> Retiring {
        Retiring {
            path: self.path.clone(),
            base: self.base(),
            size_bytes: self.header.segment_size_bytes,
        }
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.header.capacity_bytes()
    }

    /// LSN just past the data area: the next segment's base.
    pub(crate) fn end(&self) -> u64 {
        self.base() + self.capacity()
    }

    pub(crate) fn contains(&self, lsn: u64) -> bool {
        (self.base()..self.end()).contains(&lsn)
    }

    /// The data area as words (word 0 is LSN `base`).
    #[inline]
    pub(crate) fn data(&self) -> &[SharedWord] {
        self.file.words().get(HEADER_WORDS..).unwrap_or_default()
    }

    /// The file's words (header included) held independently of this segment, where the
    /// storage gives them (the append path's cache: no dynamic call per append).
    pub(crate) fn held_words(&self) -> Option<crate::storage::HeldWords> {
        self.file.held_words()
    }

    /// Word index in [`Segment::data`] of `lsn`.
    pub(crate) fn word_at(&self, lsn: u64) -> usize {
        debug_assert!(lsn >= self.base() && lsn.is_multiple_of(8));
        usize::try_from((lsn - self.base()) / 8).unwrap_or(usize::MAX)
    }

    /// Byte offset in the file of `lsn`.
    pub(crate) fn file_offset(&self, lsn: u64) -> u64 {
        debug_assert!(lsn >= self.base());
        lsn - self.base() + SEGMENT_HEADER_LEN as u64
    }

    /// `Error::Corrupted` for the frame at `lsn` in this segment.
    pub(crate) fn corrupted(&self, lsn: u64, kind: CorruptionKind) -> Error {
        Error::Corrupted(Corruption {
            path: self.path.clone(),
            lsn: Lsn(lsn),
            offset: self.file_offset(lsn),
            kind,
        })
    }

    /// The whole file, header included, as it is in the mapping (for archiving a sealed
    /// segment, whose bytes no longer change; feature `object-store`).
    #[cfg(feature = "object-store")]
    pub(crate) fn file_bytes(&self) -> Vec<u8> {
        let words = self.file.words();
        let mut out = Vec::with_capacity(words.len() * 8);
        for i in 0..words.len() {
            let w = words.load(i, Ordering::Acquire).unwrap_or(0);
            out.extend_from_slice(&u64::from_le(w).to_le_bytes());
        }
        out
    }

    /// Makes data bytes `[from, to)` (LSNs within this segment) durable.
    pub(crate) fn sync(&self, from: u64, to: u64) -> Result<()> {
        debug_assert!(from <= to);
        let start = usize::try_from(from.saturating_sub(self.base())).unwrap_or(usize::MAX);
        let len = usize::try_from(to - from).unwrap_or(usize::MAX);
        self.file
            .sync_range(SEGMENT_HEADER_LEN + start, len)
            .map_err(|e| Error::io(&self.path, "msync", e))
    }
}

/// `{base:016x}.seg`.
pub(crate) fn file_name(base_lsn: u64) -> String {
    format!("{base_lsn:016x}{SEGMENT_SUFFIX}")
}

/// `{base:016x}.seg.free`: the retired segment at `base_lsn`, kept for recycling.
pub(crate) fn free_name(base_lsn: u64) -> String {
    format!("{base_lsn:016x}{FREE_SUFFIX}")
}

/// Whether `name` is a free (retired, kept for recycling) segment file's name.
pub(crate) fn is_free_name(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| {
        n.strip_suffix(FREE_SUFFIX)
            .is_some_and(|hex| parse_lsn_hex(hex).is_some())
    })
}

/// Writes `header`'s encoded fields into the first words of a segment mapping.
fn store_header(words: &[SharedWord], header: &SegmentHeader) {
    for (i, chunk) in header.encode().chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        words.store(i, u64::from_le_bytes(b).to_le(), Ordering::Relaxed);
    }
}

/// The base LSN a segment file name encodes, or `None` if it is not a segment name.
pub(crate) fn parse_name(name: &OsStr) -> Option<u64> {
    parse_lsn_hex(name.to_str()?.strip_suffix(SEGMENT_SUFFIX)?)
}

/// The LSN of a file name's 16 lowercase hex digits (segment, snapshot and summary
/// names), or `None` for anything else.
pub(crate) fn parse_lsn_hex(hex: &str) -> Option<u64> {
    if hex.len() != 16
        || !hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn header_bytes(words: &[SharedWord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEGMENT_HEADER_FIELDS_LEN);
    for i in 0..SEGMENT_HEADER_FIELDS_LEN / 8 {
        if let Some(w) = words.load(i, Ordering::Relaxed) {
            out.extend_from_slice(&u64::from_le(w).to_le_bytes());
        }
    }
    out
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_lookalikes() {
        assert_eq!(
            parse_name(OsStr::new(&file_name(0x1234_5000))),
            Some(0x1234_5000)
        );
        for bad in [
            "0000000000001000.seg.tmp",
            "000000000000100.seg",
            "000000000000ABCD.seg",
            "x.seg",
            "journal.lock",
        ] {
            assert_eq!(parse_name(OsStr::new(bad)), None, "{bad}");
        }
    }
}
