//! Segment summaries on the storage seam: their names (`{base_lsn:016x}.sum`),
//! publication (write `.sum.tmp`, sync it, rename it, sync the directory), listing,
//! reading with validation against the segment they describe, and removal (the bytes
//! are `format::segment_summary`'s business).
//!
//! Invariant: a summary is only written for a segment whose every byte is below the
//! durable frontier (the segment is full and can no longer change), and it is removed
//! before its segment is retired, truncated or repaired; a summary that survives
//! anything else (a crash between the two steps, a replaced file) no longer matches its
//! segment's header or is an orphan, and open falls back to a scan or removes it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::limits::SUMMARY_FILE_MAX_BYTES;
use crate::format::segment_summary::{self, SegmentSummary, SummaryFault};
use crate::segment::Segment;
use crate::storage::page_file::{self, PageFileOps};
use crate::storage::{Storage, Words};
use crate::sync::Ordering;

mod background;
mod compute;

pub(crate) use background::Summarizer;
pub(crate) use compute::compute;

/// Summary files are named `{base_lsn:016x}.sum`.
pub(crate) const SUMMARY_SUFFIX: &str = ".sum";
/// A summary being written: `{base_lsn:016x}.sum.tmp`.
pub(crate) const TEMP_SUFFIX: &str = ".sum.tmp";

/// Why a summary could not be used; open then scans the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SummaryFallbackReason {
    /// The segment has no summary (never written, or a crash came first).
    Missing,
    /// The file fails its checksum, or is truncated.
    Checksum,
    /// The file is valid but describes another segment (another journal, base, size or
    /// creation time), or a frame it locates does not validate there.
    Mismatch,
    /// The file is larger than the limits allow.
    TooLarge,
    /// The file cannot be read, or is not a summary of a version this build reads.
    Unreadable,
}

/// A sealed segment that open scanned instead of folding its summary.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SummaryFallback {
    /// The segment file.
    pub segment: PathBuf,
    /// Why its summary was not used.
    pub reason: SummaryFallbackReason,
    /// The detail (the fault, or what differs).
    pub detail: String,
}

/// The summary files of a directory.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// `(base_lsn, path)`, in no order.
    pub(crate) summaries: Vec<(u64, PathBuf)>,
    /// Temporary files left by a publication that never finished.
    pub(crate) temps: Vec<PathBuf>,
}

/// `{base:016x}.sum`.
pub(crate) fn file_name(base_lsn: u64) -> String {
    format!("{base_lsn:016x}{SUMMARY_SUFFIX}")
}

/// The path of the summary of the segment based at `base_lsn` in `dir`.
pub(crate) fn path_for(dir: &Path, base_lsn: u64) -> PathBuf {
    dir.join(file_name(base_lsn))
}

/// The base LSN a summary file name encodes, or `None` if it is not a summary name.
pub(crate) fn parse_name(name: &OsStr) -> Option<u64> {
    crate::segment::parse_lsn_hex(name.to_str()?.strip_suffix(SUMMARY_SUFFIX)?)
}

/// Lists the summary and temporary summary files of `dir` (regular files only).
///
/// # Errors
/// The listing's I/O error.
pub(crate) fn list(storage: &dyn Storage, dir: &Path) -> Result<Listing> {
    let mut out = Listing::default();
    for item in storage
        .list_dir(dir)
        .map_err(|e| Error::io(dir, "list directory", e))?
    {
        let Some(name) = item.name.to_str().filter(|_| item.is_file) else {
            continue;
        };
        if let Some(hex) = name.strip_suffix(TEMP_SUFFIX) {
            if crate::segment::parse_lsn_hex(hex).is_some() {
                out.temps.push(dir.join(name));
            }
        } else if let Some(base) = parse_name(&item.name) {
            out.summaries.push((base, dir.join(name)));
        }
    }
    Ok(out)
}

/// Publishes `summary` in `dir` (temporary file, sync, rename, directory sync); returns
/// its path. The caller guarantees that the segment is durable to its end.
///
/// # Errors
/// [`Error::TooLarge`] past the row limits; the failing I/O otherwise (a leftover
/// temporary file is removed by the next open).
pub(crate) fn write(
    storage: &dyn Storage,
    dir: &Path,
    summary: &SegmentSummary,
) -> Result<PathBuf> {
    let bytes = segment_summary::encode(summary).map_err(|fault| Error::TooLarge {
        what: "segment summary",
        bytes: match fault {
            SummaryFault::TooLarge { found, .. } => found,
            _ => 0,
        },
        max: crate::format::limits::SUMMARY_RECORDS_MAX as u64,
    })?;
    let base = summary.base_lsn;
    let tmp = dir.join(format!("{base:016x}{TEMP_SUFFIX}"));
    let path = path_for(dir, base);
    let ops = PageFileOps {
        remove_temp: "remove summary temporary file",
        create: "create summary",
        msync: "msync summary",
        rename: "rename summary",
    };
    page_file::publish(storage, (dir, &tmp, &path), &bytes, &ops)?;
    Ok(path)
}

/// Reads the summary at `path` and checks that it describes `seg` (journal id, base and
/// end LSN, size, creation time). The `Err` is why it cannot be used.
pub(crate) fn read(
    storage: &dyn Storage,
    path: &Path,
    seg: &Segment,
) -> std::result::Result<SegmentSummary, (SummaryFallbackReason, String)> {
    use SummaryFallbackReason as Why;
    // Summaries are whole pages: a file of another length was cut short (or extended).
    let file = storage
        .open_mapped_readonly(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => (Why::Checksum, format!("truncated: {e}")),
            _ => (Why::Unreadable, format!("cannot be read: {e}")),
        })?;
    let words = file.words();
    if words.len() * 8 > SUMMARY_FILE_MAX_BYTES {
        return Err((
            Why::TooLarge,
            format!(
                "file of {} bytes exceeds the largest summary ({SUMMARY_FILE_MAX_BYTES} bytes)",
                words.len() * 8
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(words.len() * 8);
    for i in 0..words.len() {
        let w = words.load(i, Ordering::Relaxed).unwrap_or(0);
        bytes.extend_from_slice(&u64::from_le(w).to_le_bytes());
    }
    let summary = segment_summary::decode(&bytes).map_err(|fault| {
        let why = match fault {
            SummaryFault::Truncated { .. } | SummaryFault::ChecksumMismatch => Why::Checksum,
            SummaryFault::TooLarge { .. } => Why::TooLarge,
            _ => Why::Unreadable,
        };
        (why, fault.to_string())
    })?;
    match binding_mismatch(&summary, seg) {
        Some(what) => Err((Why::Mismatch, what)),
        None => Ok(summary),
    }
}

/// What differs between `summary`'s binding and `seg`'s header, if anything.
fn binding_mismatch(summary: &SegmentSummary, seg: &Segment) -> Option<String> {
    let h = &seg.header;
    let fields = [
        (
            "base LSN",
            u128::from(summary.base_lsn),
            u128::from(h.base_lsn),
        ),
        (
            "end LSN",
            u128::from(summary.end_lsn),
            u128::from(seg.end()),
        ),
        (
            "segment size",
            u128::from(summary.segment_size_bytes),
            u128::from(h.segment_size_bytes),
        ),
        (
            "segment creation time",
            u128::from(summary.segment_created_at_ms),
            u128::from(h.created_at_ms),
        ),
        ("journal id", summary.journal_id, h.journal_id),
    ];
    fields
        .into_iter()
        .find(|(_, found, expected)| found != expected)
        .map(|(what, found, expected)| {
            format!("its {what} is {found}, the segment's is {expected}")
        })
}

/// Removes the summary of the segment based at `base_lsn`, if any; returns whether there
/// was one. With `sync`, the removal is durable before this returns (so a later change
/// to the segment can never be described by it); without, the caller syncs the
/// directory (a retired segment's summary left by a crash is an orphan open removes).
///
/// # Errors
/// The failing I/O.
pub(crate) fn remove(storage: &dyn Storage, dir: &Path, base_lsn: u64, sync: bool) -> Result<bool> {
    let path = path_for(dir, base_lsn);
    match storage.remove_file(&path) {
        Ok(()) => {
            if sync {
                storage
                    .sync_dir(dir)
                    .map_err(|e| Error::io(dir, "fsync directory", e))?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(&path, "remove summary", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_lookalikes() {
        assert_eq!(
            parse_name(OsStr::new(&file_name(0xab_c000))),
            Some(0xab_c000)
        );
        for bad in [
            "0000000000001000.sum.tmp",
            "0000000000001000.seg",
            "000000000000100.sum",
            "000000000000ABCD.sum",
        ] {
            assert_eq!(parse_name(OsStr::new(bad)), None, "{bad}");
        }
    }
}
