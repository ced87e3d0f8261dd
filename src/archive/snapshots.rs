//! Archiving snapshot files: the newest local snapshot is uploaded once the archived
//! segments reach its LSN, and published with the manifest trimmed to the
//! `keep_snapshots` newest snapshots and the segments from the oldest of them on.
//! When compaction retired segments before they were archived (an archiver that was not
//! running), the archive restarts from the newest local snapshot.

use object_store::PutMode;

use super::keys;
use super::manifest::{Manifest, SnapshotRef, SNAPSHOT_BYTES_MAX};
use super::remote::{PutOutcome, Remote};
use crate::append::Log;
use crate::error::{Error, Result};
use crate::storage::Words;
use crate::sync::Ordering;

/// The newest local snapshot: `(lsn, bytes)` once validated, `None` if there is none.
pub(crate) fn newest_local(log: &Log) -> Result<Option<(u64, Vec<u8>)>> {
    let listing = crate::snapshot::list(&*log.storage, &log.dir)?;
    let Some((lsn, path)) = listing.snapshots.first() else {
        return Ok(None);
    };
    if let Err(reason) = crate::snapshot::read(&*log.storage, path, *lsn, log.journal_id) {
        tracing::warn!(path = %path.display(), %reason, "newest snapshot not archived: it does not validate");
        return Ok(None);
    }
    // Compaction may prune it between the listing and here: archive it next round.
    let Ok(file) = log.storage.open_mapped_readonly(path) else {
        return Ok(None);
    };
    let words = file.words();
    if words.len() as u64 * 8 > SNAPSHOT_BYTES_MAX {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(words.len() * 8);
    for i in 0..words.len() {
        let w = words.load(i, Ordering::Relaxed).unwrap_or(0);
        bytes.extend_from_slice(&u64::from_le(w).to_le_bytes());
    }
    Ok(Some((*lsn, bytes)))
}

/// Uploads a snapshot create-only under this epoch's key; returns its reference.
pub(crate) fn upload(
    remote: &Remote,
    prefix: &str,
    journal_id: u128,
    epoch: u64,
    lsn: u64,
    bytes: &[u8],
) -> Result<SnapshotRef> {
    let key = keys::snapshot(prefix, journal_id, lsn, epoch);
    let crc32c = crc32c::crc32c(bytes);
    match remote.put(&key, bytes, &PutMode::Create)? {
        PutOutcome::Written(_) => {}
        PutOutcome::AlreadyExists => {
            let same = remote
                .get(&key, bytes.len() as u64)?
                .is_some_and(|f| f.bytes == bytes);
            if !same {
                return Err(Error::RemoteCorrupt {
                    key: key.to_string(),
                    reason: "a snapshot object of this epoch already exists with other bytes"
                        .into(),
                });
            }
        }
        other => {
            return Err(Error::RemoteCorrupt {
                key: key.to_string(),
                reason: format!("create-only upload refused: {other:?}"),
            })
        }
    }
    Ok(SnapshotRef {
        lsn,
        epoch,
        bytes: bytes.len() as u64,
        crc32c,
    })
}

/// Adds `snapshot` to the manifest, keeps the `keep` newest, and drops the segments
/// that end before the oldest kept one.
pub(crate) fn add(manifest: &mut Manifest, snapshot: SnapshotRef, keep: usize) {
    manifest.snapshots.push(snapshot);
    let excess = manifest.snapshots.len().saturating_sub(keep.max(1));
    manifest.snapshots.drain(..excess);
    if let Some(oldest) = manifest.snapshots.first().map(|s| s.lsn) {
        manifest.segments.retain(|s| s.end_lsn >= oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::SegmentRef;

    #[test]
    fn adding_a_snapshot_trims_old_snapshots_and_the_segments_before_them() {
        let mut m = Manifest::new(1, 1, 1);
        for i in 0..6u64 {
            m.segments.push(SegmentRef {
                base_lsn: i * 100,
                end_lsn: (i + 1) * 100,
                epoch: 1,
                bytes: 65_536,
                crc32c: 0,
            });
        }
        let snap = |lsn| SnapshotRef {
            lsn,
            epoch: 1,
            bytes: 4096,
            crc32c: 0,
        };
        add(&mut m, snap(150), 2);
        add(&mut m, snap(300), 2);
        assert_eq!(m.segments.first().map(|s| s.base_lsn), Some(100));
        add(&mut m, snap(420), 2);
        assert_eq!(
            m.snapshots.iter().map(|s| s.lsn).collect::<Vec<_>>(),
            vec![300, 420]
        );
        // The segment that ends exactly at the oldest snapshot stays.
        assert_eq!(m.segments.first().map(|s| s.base_lsn), Some(200));
    }
}
