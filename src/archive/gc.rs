//! Garbage collection of archived objects the manifest no longer needs: segment and
//! snapshot objects of this journal that the manifest does not reference (beyond
//! retention, trimmed when a newer snapshot was published, or uploaded by a writer that
//! was fenced) and that no live writer can still publish (below the manifest's end or
//! its newest snapshot, or of an older epoch), and probe keys left by writers that
//! crashed during their probe.
//!
//! Idempotent (an object already gone is fine) and conservative: an object the current
//! manifest references is never deleted, nor one at or past its end written in its
//! epoch (an upload in flight that the owner is about to publish).

use object_store::ObjectStore;
use serde::Serialize;

use super::config::ArchiveConfig;
use super::keys;
use super::remote::{on_own_thread, Remote};
use crate::error::Result;
use crate::sync::Arc;

/// What garbage collection found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct GcReport {
    /// Segment and snapshot objects the manifest references (kept).
    pub referenced: u64,
    /// Unreferenced objects that may still be published (kept).
    pub in_flight: u64,
    /// Keys deleted.
    pub deleted: Vec<String>,
}

/// Collects garbage under `prefix` (see the module doc). No manifest: nothing to do.
///
/// # Errors
/// [`crate::Error::Remote`] and [`crate::Error::RemoteCorrupt`] (a damaged manifest:
/// nothing is deleted).
pub fn collect_garbage(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<GcReport> {
    let prefix = prefix.to_owned();
    on_own_thread(move || {
        let remote = Remote::new(store, &ArchiveConfig::default())?;
        collect(&remote, &prefix)
    })
}

fn collect(remote: &Remote, prefix: &str) -> Result<GcReport> {
    let mut report = GcReport::default();
    let Some((manifest, _)) = remote.manifest(prefix)? else {
        return Ok(report);
    };
    let end = manifest.end_lsn().unwrap_or(0);
    let listed = remote.list(&keys::segments_dir(prefix, manifest.journal_id))?;
    for meta in listed {
        let Some((base, epoch)) = meta.location.filename().and_then(keys::parse_segment) else {
            continue;
        };
        let referenced = manifest
            .segments
            .iter()
            .any(|s| s.base_lsn == base && s.epoch == epoch);
        if referenced {
            report.referenced += 1;
        } else if base < end || epoch < manifest.epoch {
            remote.delete(&meta.location)?;
            report.deleted.push(meta.location.to_string());
        } else {
            report.in_flight += 1;
        }
    }
    let newest_snapshot = manifest.snapshots.last().map_or(0, |s| s.lsn);
    for meta in remote.list(&keys::snapshots_dir(prefix, manifest.journal_id))? {
        let Some((lsn, epoch)) = meta.location.filename().and_then(keys::parse_snapshot) else {
            continue;
        };
        if manifest
            .snapshots
            .iter()
            .any(|s| s.lsn == lsn && s.epoch == epoch)
        {
            report.referenced += 1;
        } else if lsn <= newest_snapshot || epoch < manifest.epoch {
            remote.delete(&meta.location)?;
            report.deleted.push(meta.location.to_string());
        } else {
            report.in_flight += 1;
        }
    }
    let hour_ago = i64::try_from(crate::segment::now_ms() / 1000).unwrap_or(i64::MAX) - 3600;
    for meta in remote.list(&keys::probes_dir(prefix))? {
        if meta.last_modified.timestamp() < hour_ago {
            remote.delete(&meta.location)?;
            report.deleted.push(meta.location.to_string());
        }
    }
    Ok(report)
}
