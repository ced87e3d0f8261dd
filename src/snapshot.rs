//! Snapshot files on the storage seam: their names (`{lsn:016x}.snap`), publication
//! (write `{lsn:016x}.snap.tmp`, sync it, rename it, sync the directory), listing, and
//! reading with validation (the bytes are `format::snapshot_file`'s business).
//!
//! Invariant: a name ending in `.snap` is only ever given to a file whose bytes are
//! durable, and that name becomes durable at the directory sync that ends publication;
//! a crash at any step leaves every earlier snapshot as it was, plus at most a
//! temporary file that the next open removes.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::limits::{SNAPSHOTS_LISTED_MAX, SNAPSHOT_BODY_MAX_BYTES};
use crate::format::snapshot_file::{
    self, SnapshotHeader, SNAPSHOT_HEADER_LEN, SNAPSHOT_TRAILER_LEN,
};
use crate::segment::now_ms;
use crate::state::State;
use crate::storage::page_file::{self, PageFileOps};
use crate::storage::{Storage, Words};
use crate::sync::Ordering;

/// Snapshot files are named `{snapshot_lsn:016x}.snap`.
pub(crate) const SNAPSHOT_SUFFIX: &str = ".snap";
/// A snapshot being written: `{snapshot_lsn:016x}.snap.tmp`.
pub(crate) const TEMP_SUFFIX: &str = ".snap.tmp";
/// Longest snapshot file read back: header, largest body, trailer, padding.
const FILE_MAX_BYTES: u64 = (SNAPSHOT_HEADER_LEN
    + SNAPSHOT_BODY_MAX_BYTES
    + SNAPSHOT_TRAILER_LEN
    + page_file::PAGE_FILE_ALIGN_BYTES) as u64;

/// The snapshot files of a directory.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// `(snapshot_lsn, path)`, newest first.
    pub(crate) snapshots: Vec<(u64, PathBuf)>,
    /// Temporary files left by a publication that never finished.
    pub(crate) temps: Vec<PathBuf>,
}

/// `{lsn:016x}.snap`.
pub(crate) fn file_name(lsn: u64) -> String {
    format!("{lsn:016x}{SNAPSHOT_SUFFIX}")
}

/// The LSN a snapshot file name encodes, or `None` if it is not a snapshot name.
pub(crate) fn parse_name(name: &OsStr) -> Option<u64> {
    crate::segment::parse_lsn_hex(name.to_str()?.strip_suffix(SNAPSHOT_SUFFIX)?)
}

/// Lists the snapshot and temporary files of `dir`.
///
/// # Errors
/// The listing's I/O error; [`Error::TooLarge`] past `SNAPSHOTS_LISTED_MAX` files.
pub(crate) fn list(storage: &dyn Storage, dir: &Path) -> Result<Listing> {
    let mut out = Listing::default();
    for item in storage
        .list_dir(dir)
        .map_err(|e| Error::io(dir, "list directory", e))?
    {
        let Some(name) = item.name.to_str() else {
            continue;
        };
        if let Some(hex) = name.strip_suffix(TEMP_SUFFIX) {
            if crate::segment::parse_lsn_hex(hex).is_some() && item.is_file {
                out.temps.push(dir.join(name));
            }
        } else if let Some(lsn) = parse_name(&item.name).filter(|_| item.is_file) {
            out.snapshots.push((lsn, dir.join(name)));
        }
    }
    if out.snapshots.len() > SNAPSHOTS_LISTED_MAX {
        return Err(Error::TooLarge {
            what: "snapshot file count",
            bytes: out.snapshots.len() as u64,
            max: SNAPSHOTS_LISTED_MAX as u64,
        });
    }
    out.snapshots.sort_by_key(|s| std::cmp::Reverse(s.0));
    Ok(out)
}

/// Publishes a snapshot of `state` (as of `state.end`) in `dir`; returns its path.
///
/// # Errors
/// [`Error::TooLarge`] for a state over the limit; the failing I/O otherwise (nothing
/// earlier is changed: a leftover temporary file is removed by the next open).
pub(crate) fn write(
    storage: &dyn Storage,
    dir: &Path,
    journal_id: u128,
    state: &State,
) -> Result<PathBuf> {
    let lsn = state.end.0;
    let body = snapshot_file::encode_body(state).map_err(|fault| match fault {
        snapshot_file::SnapshotFault::TooLarge { body_len } => Error::TooLarge {
            what: "snapshot body (the journal's state)",
            bytes: body_len,
            max: SNAPSHOT_BODY_MAX_BYTES as u64,
        },
        other => Error::io(
            dir,
            "encode snapshot",
            std::io::Error::other(other.to_string()),
        ),
    })?;
    let header = SnapshotHeader {
        journal_id,
        snapshot_lsn: lsn,
        created_at_ms: now_ms(),
        body_len: body.len() as u64,
    };
    let bytes = snapshot_file::encode(&header, &body);
    let tmp = dir.join(format!("{lsn:016x}{TEMP_SUFFIX}"));
    let path = dir.join(file_name(lsn));
    let _span = tracing::debug_span!("snapshot_write", path = %path.display(), bytes = bytes.len())
        .entered();
    let ops = PageFileOps {
        remove_temp: "remove snapshot temporary file",
        create: "create snapshot",
        msync: "msync snapshot",
        rename: "rename snapshot",
    };
    page_file::publish(storage, (dir, &tmp, &path), &bytes, &ops)?;
    Ok(path)
}

/// Reads and validates the snapshot at `path` (named for `name_lsn`) of journal
/// `journal_id`; the `Err` is why it cannot be used, for the recovery report.
pub(crate) fn read(
    storage: &dyn Storage,
    path: &Path,
    name_lsn: u64,
    journal_id: u128,
) -> std::result::Result<(SnapshotHeader, State), String> {
    let file = storage
        .open_mapped_readonly(path)
        .map_err(|e| format!("cannot be read: {e}"))?;
    let words = file.words();
    if words.len() as u64 * 8 > FILE_MAX_BYTES {
        return Err(format!(
            "file of {} bytes exceeds the largest snapshot ({FILE_MAX_BYTES} bytes)",
            words.len() * 8
        ));
    }
    let mut bytes = Vec::with_capacity(words.len() * 8);
    for i in 0..words.len() {
        let w = words.load(i, Ordering::Relaxed).unwrap_or(0);
        bytes.extend_from_slice(&u64::from_le(w).to_le_bytes());
    }
    let (header, body) = snapshot_file::decode(&bytes).map_err(|f| f.to_string())?;
    if header.journal_id != journal_id {
        return Err(format!(
            "belongs to journal {:032x}, not {journal_id:032x}",
            header.journal_id
        ));
    }
    if header.snapshot_lsn != name_lsn {
        return Err(format!(
            "its header says LSN {} but its name says {name_lsn}",
            header.snapshot_lsn
        ));
    }
    let state = snapshot_file::decode_body(body).map_err(|f| f.to_string())?;
    if state.end.0 != name_lsn {
        return Err(format!(
            "its state ends at LSN {} instead of {name_lsn}",
            state.end.0
        ));
    }
    Ok((header, state))
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
            "0000000000001000.snap.tmp",
            "0000000000001000.seg",
            "000000000000100.snap",
            "000000000000ABCD.snap",
        ] {
            assert_eq!(parse_name(OsStr::new(bad)), None, "{bad}");
        }
    }
}
