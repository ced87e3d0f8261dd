//! Restore: rebuild a journal directory from an archive. The manifest names the
//! snapshots and segments; each object is fetched, checked against the manifest (size,
//! CRC32C) and against itself (header, journal identity, LSN) and written as a 0600
//! file, fsynced, before the directory is fsynced.
//!
//! Fallback: the newest snapshot that checks is installed (a bad or missing newer one
//! is skipped, and reported); without one, the segments must start at LSN 0. Then the
//! segments from the one holding the snapshot's LSN are restored in order, and the
//! first missing or bad one ends the restore there: the journal is rebuilt as of the
//! segment before it (an older state of the archive), and the report says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use serde::Serialize;

use super::config::ArchiveConfig;
use super::keys;
use super::manifest::{Manifest, SegmentRef, SnapshotRef};
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
    /// LSN of the snapshot installed, if any.
    pub snapshot_lsn: Option<u64>,
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
    let snapshot = choose_snapshot(&remote, prefix, &manifest, &mut report)?;
    if let Some((r, bytes)) = &snapshot {
        write_file(dir, &crate::snapshot::file_name(r.lsn), bytes)?;
        report.snapshot_lsn = Some(r.lsn);
        report.bytes_restored += bytes.len() as u64;
        report.restored_end_lsn = r.lsn;
    } else if let Some(first) = manifest.segments.first().filter(|s| s.base_lsn != 0) {
        return Err(Error::RemoteCorrupt {
            key: keys::manifest(prefix).to_string(),
            reason: format!(
                "no usable snapshot, and the archived segments start at LSN {} (not 0): {}",
                first.base_lsn,
                skipped_text(&report.skipped)
            ),
        });
    }
    let from = snapshot.as_ref().map_or(0, |(r, _)| r.lsn);
    restore_segments(&remote, prefix, &manifest, from, dir, &mut report)?;
    if report.segments_restored == 0 && snapshot.is_none() {
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

fn skipped_text(skipped: &[SkippedObject]) -> String {
    let parts: Vec<String> = skipped
        .iter()
        .map(|s| format!("{}: {}", s.key, s.reason))
        .collect();
    if parts.is_empty() {
        "none listed".into()
    } else {
        parts.join("; ")
    }
}

/// The newest snapshot that checks, newest first; the others tried are reported.
fn choose_snapshot(
    remote: &Remote,
    prefix: &str,
    manifest: &Manifest,
    report: &mut RestoreReport,
) -> Result<Option<(SnapshotRef, Vec<u8>)>> {
    for r in manifest.snapshots.iter().rev() {
        let key = keys::snapshot(prefix, manifest.journal_id, r.lsn, r.epoch);
        match fetch_snapshot(remote, &key, r, manifest.journal_id)? {
            Ok(bytes) => return Ok(Some((*r, bytes))),
            Err(reason) => {
                tracing::warn!(%key, %reason, "archived snapshot unusable; trying an older one");
                report.skipped.push(SkippedObject {
                    key: key.to_string(),
                    reason,
                });
            }
        }
    }
    Ok(None)
}

/// The segments from the one holding `from` on, in order, up to the first bad one.
fn restore_segments(
    remote: &Remote,
    prefix: &str,
    manifest: &Manifest,
    from: u64,
    dir: &Path,
    report: &mut RestoreReport,
) -> Result<()> {
    for r in manifest.segments.iter().filter(|s| s.end_lsn >= from) {
        let key = keys::segment(prefix, manifest.journal_id, r.base_lsn, r.epoch);
        match fetch_checked(remote, &key, r, manifest)? {
            Ok(bytes) => {
                write_file(dir, &crate::segment::file_name(r.base_lsn), &bytes)?;
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
    Ok(())
}

/// A snapshot object's bytes if they match the manifest and decode as a snapshot of
/// this journal at that LSN; otherwise the reason.
fn fetch_snapshot(
    remote: &Remote,
    key: &object_store::path::Path,
    r: &SnapshotRef,
    journal_id: u128,
) -> Result<std::result::Result<Vec<u8>, String>> {
    let Some(fetched) = remote.get(key, r.bytes)? else {
        return Ok(Err("missing".into()));
    };
    let bytes = fetched.bytes;
    let crc = crc32c::crc32c(&bytes);
    if bytes.len() as u64 != r.bytes || crc != r.crc32c {
        return Ok(Err(format!(
            "{} bytes with CRC32C {crc:08x}, the manifest says {} bytes with {:08x}",
            bytes.len(),
            r.bytes,
            r.crc32c
        )));
    }
    let header = match crate::format::snapshot_file::decode(&bytes) {
        Ok((h, _)) => h,
        Err(fault) => return Ok(Err(format!("snapshot: {fault}"))),
    };
    if header.journal_id != journal_id || header.snapshot_lsn != r.lsn {
        return Ok(Err("snapshot header disagrees with the manifest".into()));
    }
    Ok(Ok(bytes))
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

/// Writes one file (0600, created new) and fsyncs it.
fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|e| Error::io(&path, "create restored file", e))?;
    file.write_all(bytes)
        .map_err(|e| Error::io(&path, "write restored file", e))?;
    file.sync_all()
        .map_err(|e| Error::io(&path, "fsync restored file", e))?;
    Ok(path)
}
