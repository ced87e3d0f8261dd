//! Segment files of a journal directory, found by name and read with plain file reads:
//! never mapped, never opened for writing, so looking can change nothing.
//!
//! A segment is named `{base_lsn:016x}.seg` (16 lowercase hex digits); its first 64
//! bytes are the header that `SegmentHeader::decode` validates.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use checkpoint_journal::format::segment_header::{
    HeaderFault, SegmentHeader, SEGMENT_HEADER_FIELDS_LEN, SEGMENT_HEADER_LEN,
};

use crate::output::CliError;

const SEGMENT_SUFFIX: &str = ".seg";

/// What reading a segment's header found.
#[derive(Clone, Debug)]
pub(crate) enum HeaderRead {
    /// A valid header.
    Valid(SegmentHeader),
    /// The bytes are not a valid header.
    Fault(HeaderFault),
    /// The file could not be read.
    Unreadable(String),
}

/// One segment file.
#[derive(Clone, Debug)]
pub(crate) struct SegmentFile {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    /// The base LSN its name encodes.
    pub(crate) base_lsn: u64,
    /// File length in bytes.
    pub(crate) len: u64,
    pub(crate) header: HeaderRead,
}

impl SegmentFile {
    /// LSN just past the data area, by the header's size (or the file's length).
    pub(crate) fn end_lsn(&self) -> u64 {
        let size = match &self.header {
            HeaderRead::Valid(h) => h.segment_size_bytes,
            _ => self.len,
        };
        self.base_lsn
            .saturating_add(size.saturating_sub(SEGMENT_HEADER_LEN as u64))
    }

    pub(crate) fn valid_header(&self) -> Option<&SegmentHeader> {
        match &self.header {
            HeaderRead::Valid(h) => Some(h),
            _ => None,
        }
    }
}

/// The segment files in `dir`, in LSN order. An empty list means no journal.
///
/// # Errors
/// The directory cannot be listed.
pub(crate) fn list(dir: &Path) -> Result<Vec<SegmentFile>, CliError> {
    let listing = std::fs::read_dir(dir).map_err(|e| {
        CliError::io(
            format!("cannot read {}", dir.display()),
            &e,
            "check the path: a journal directory holds NNNNNNNNNNNNNNNN.seg files",
        )
    })?;
    let mut out = Vec::new();
    for item in listing {
        let item = item.map_err(|e| {
            CliError::io(
                format!("cannot list {}", dir.display()),
                &e,
                "check permissions",
            )
        })?;
        let name = item.file_name().to_string_lossy().into_owned();
        let Some(base_lsn) = parse_name(&name) else {
            continue;
        };
        let path = item.path();
        let meta = std::fs::symlink_metadata(&path).ok();
        if !meta.as_ref().is_some_and(std::fs::Metadata::is_file) {
            continue;
        }
        let len = meta.map_or(0, |m| m.len());
        let header = read_header(&path);
        out.push(SegmentFile {
            path,
            name,
            base_lsn,
            len,
            header,
        });
    }
    out.sort_by_key(|s| s.base_lsn);
    Ok(out)
}

/// Fails with a next step when `dir` holds no segment.
///
/// # Errors
/// As [`list`], and an empty directory.
pub(crate) fn list_nonempty(dir: &Path) -> Result<Vec<SegmentFile>, CliError> {
    let segments = list(dir)?;
    if segments.is_empty() {
        return Err(CliError::CannotRun(format!(
            "no journal in {}: it holds no segment files; check the path, or make one with \
             `cpj demo --dir {}`",
            dir.display(),
            dir.display()
        )));
    }
    Ok(segments)
}

/// The base LSN a segment file name encodes.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(SEGMENT_SUFFIX)?;
    let lower_hex = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex.len() != 16 || !lower_hex {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn read_header(path: &Path) -> HeaderRead {
    let mut bytes = Vec::with_capacity(SEGMENT_HEADER_FIELDS_LEN);
    let read = File::open(path).and_then(|f| {
        f.take(SEGMENT_HEADER_FIELDS_LEN as u64)
            .read_to_end(&mut bytes)
    });
    match read {
        Err(e) => HeaderRead::Unreadable(e.to_string()),
        Ok(_) => match SegmentHeader::decode(&bytes) {
            Ok(h) => HeaderRead::Valid(h),
            Err(fault) => HeaderRead::Fault(fault),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_segment_names_parse() {
        assert_eq!(parse_name("0000000000001000.seg"), Some(0x1000));
        assert_eq!(parse_name("000000000000ABCD.seg"), None);
        assert_eq!(parse_name("0000000000001000.seg.tmp"), None);
        assert_eq!(parse_name("journal.lock"), None);
    }
}
