//! Restore: rebuild a journal directory from an archive. The manifest names the
//! segments; each is fetched, checked against the manifest (size, CRC32C) and against
//! itself (segment header, journal identity, base LSN) and written as a 0600 file,
//! fsynced, before the directory is fsynced. The first missing or bad segment ends the
//! restore there: the journal is rebuilt as of the last good one (an older manifest
//! state), and the report names what was skipped and why.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use serde::Serialize;

use super::config::ArchiveConfig;
use super::keys;
use super::manifest::{Manifest, SegmentRef};
use super::remote::{on_own_thread, Remote};
use crate::error::{Error, Result};
use crate::format::segment_header::SegmentHeader;
use crate::storage::{FsStorage, Storage};
use crate::sync::Arc;

/// What a restore found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RestoreReport {
    /// The restored journal's identity.
    pub journal_id: u128,
    /// The manifest's epoch and update sequence.
    pub epoch: u64,
    /// The manifest's update sequence.
    pub manifest_sequence: u64,
    /// Segments written to the directory.
    pub segments_restored: u64,
    /// Bytes written.
    pub bytes_restored: u64,
    /// The restored journal ends at this LSN (the end of its last segment).
    pub restored_end_lsn: u64,
    /// The archive's end according to the manifest; larger than `restored_end_lsn` when
    /// a segment was missing or bad.
    pub manifest_end_lsn: u64,
    /// Objects the manifest lists that could not be used, in LSN order.
    pub skipped: Vec<SkippedObject>,
    /// Wall time of fetching, checking and writing.
    pub elapsed: Duration,
}

/// One archived object a restore could not use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedObject {
    /// The object key.
    pub key: String,
    /// Missing, or what failed to check.
    pub reason: String,
}

/// Restores the archive under `prefix` into `dir`, which must be empty or absent; does
/// not open the journal (`Journal::restore_from` does both).
///
/// # Errors
/// [`Error::InvalidOptions`] for a non-empty `dir`; [`Error::RemoteCorrupt`] when there
/// is no manifest, it is damaged, or not even the first segment is usable;
/// [`Error::Remote`] and I/O errors.
pub fn restore(store: Arc<dyn ObjectStore>, prefix: &str, dir: &Path) -> Result<RestoreReport> {
    let prefix = prefix.to_owned();
    let dir = dir.to_path_buf();
    on_own_thread(move || restore_here(store, &prefix, &dir))
}

fn restore_here(store: Arc<dyn ObjectStore>, prefix: &str, dir: &Path) -> Result<RestoreReport> {
    let started = Instant::now();
    prepare_dir(dir)?;
    let remote = Remote::new(store, &ArchiveConfig::default())?;
    let Some((manifest, _)) = remote.manifest(prefix)? else {
        return Err(Error::RemoteCorrupt {
            key: keys::manifest(prefix).to_string(),
            reason: "no manifest: nothing was archived under this prefix".into(),
        });
    };
    let mut report = RestoreReport {
        journal_id: manifest.journal_id,
        epoch: manifest.epoch,
        manifest_sequence: manifest.sequence,
        manifest_end_lsn: manifest.end_lsn().unwrap_or(0),
        ..RestoreReport::default()
    };
    for r in &manifest.segments {
        let key = keys::segment(prefix, manifest.journal_id, r.base_lsn, r.epoch);
        match fetch_checked(&remote, &key, r, &manifest)? {
            Ok(bytes) => {
                write_segment(dir, r.base_lsn, &bytes)?;
                report.segments_restored += 1;
                report.bytes_restored += bytes.len() as u64;
                report.restored_end_lsn = r.end_lsn;
            }
            Err(reason) => {
                tracing::warn!(%key, %reason, "archived segment unusable; restoring up to the one before");
                report.skipped.push(SkippedObject {
                    key: key.to_string(),
                    reason,
                });
                break;
            }
        }
    }
    if report.segments_restored == 0 {
        let first = report.skipped.first().cloned();
        return Err(Error::RemoteCorrupt {
            key: first
                .as_ref()
                .map_or_else(|| keys::manifest(prefix).to_string(), |s| s.key.clone()),
            reason: first.map_or_else(|| "the manifest lists no segment".into(), |s| s.reason),
        });
    }
    FsStorage
        .sync_dir(dir)
        .map_err(|e| Error::io(dir, "fsync directory", e))?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Creates `dir` (0700) or checks that it is empty.
fn prepare_dir(dir: &Path) -> Result<()> {
    FsStorage
        .create_dir_all(dir)
        .map_err(|e| Error::io(dir, "create directory", e))?;
    let listed = FsStorage
        .list_dir(dir)
        .map_err(|e| Error::io(dir, "list directory", e))?;
    if !listed.is_empty() {
        return Err(Error::InvalidOptions {
            field: "dir",
            reason: format!(
                "{} is not empty; a restore writes into an empty directory",
                dir.display()
            ),
        });
    }
    Ok(())
}

/// The object's bytes if they match the manifest and are a segment of this journal;
/// otherwise the reason (the outer error is for the store failing, not the object).
fn fetch_checked(
    remote: &Remote,
    key: &object_store::path::Path,
    r: &SegmentRef,
    manifest: &Manifest,
) -> Result<std::result::Result<Vec<u8>, String>> {
    let Some(fetched) = remote.get(key, r.bytes)? else {
        return Ok(Err("missing".into()));
    };
    let bytes = fetched.bytes;
    if bytes.len() as u64 != r.bytes {
        return Ok(Err(format!(
            "{} bytes, the manifest says {}",
            bytes.len(),
            r.bytes
        )));
    }
    let crc = crc32c::crc32c(&bytes);
    if crc != r.crc32c {
        return Ok(Err(format!(
            "CRC32C {crc:08x}, the manifest says {:08x}",
            r.crc32c
        )));
    }
    let header = match SegmentHeader::decode(&bytes) {
        Ok(h) => h,
        Err(fault) => return Ok(Err(format!("segment header: {fault:?}"))),
    };
    if header.journal_id != manifest.journal_id {
        return Ok(Err(format!(
            "belongs to journal {:032x}, not {:032x}",
            header.journal_id, manifest.journal_id
        )));
    }
    if header.base_lsn != r.base_lsn
        || header.segment_size_bytes != r.bytes
        || header.base_lsn + header.capacity_bytes() != r.end_lsn
    {
        return Ok(Err("segment header disagrees with the manifest".into()));
    }
    Ok(Ok(bytes))
}

/// Writes one segment file (0600, created new) and fsyncs it.
fn write_segment(dir: &Path, base_lsn: u64, bytes: &[u8]) -> Result<PathBuf> {
    let path = dir.join(crate::segment::file_name(base_lsn));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|e| Error::io(&path, "create segment", e))?;
    file.write_all(bytes)
        .map_err(|e| Error::io(&path, "write segment", e))?;
    file.sync_all()
        .map_err(|e| Error::io(&path, "fsync segment", e))?;
    Ok(path)
}
