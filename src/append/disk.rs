//! Disk use of the segment files: recycling retired segments
//! ([`crate::Options::recycle_segments`]) and the bound on the bytes of live segment
//! files ([`crate::Options::max_segment_bytes`]), enforced at roll-over only, never on
//! the per-append path.

use std::fmt;
use std::path::PathBuf;

use super::Log;
use crate::compaction::CompactionReport;
use crate::error::{Error, Result};
use crate::lsn::Lsn;
use crate::segment::{self, Retiring, Segment};
use crate::sync::{lock, Mutex};

/// Retired segment files kept for recycling at most (`{base:016x}.seg.free`); further
/// retired segments are removed.
pub(crate) const FREE_KEPT: usize = 4;

/// Runs one compaction of the journal (set by `Journal::open`; it holds the log weakly).
pub(crate) type CompactFn = Box<dyn Fn() -> Result<CompactionReport> + Send + Sync>;

/// The log's disk policy and its pool of free files.
#[derive(Default)]
pub(crate) struct Disk {
    /// Retired segments are kept (up to [`FREE_KEPT`]) and recycled as new segments.
    pub(crate) recycle: bool,
    /// Bound on the bytes of live segment files, checked at roll-over.
    pub(crate) max_segment_bytes: Option<u64>,
    /// Free files by their old base LSN, oldest first.
    free: Mutex<Vec<(u64, PathBuf)>>,
    /// How a roll-over over the bound compacts.
    pub(crate) compact: Option<CompactFn>,
}

impl fmt::Debug for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disk")
            .field("recycle", &self.recycle)
            .field("max_segment_bytes", &self.max_segment_bytes)
            .field("free", &*lock(&self.free))
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Removes the file of a segment compaction detached, or (recycling on, the pool not
    /// full, the file of the current segment size) renames it to its free name. The
    /// caller syncs the directory afterwards. Returns whether the file was kept.
    pub(crate) fn retire_file(&self, seg: &Retiring) -> Result<bool> {
        if self.disk.recycle && seg.size_bytes == self.segment_size_bytes {
            let mut free = lock(&self.disk.free);
            if free.len() < FREE_KEPT {
                let to = self.dir.join(segment::free_name(seg.base));
                self.storage
                    .rename(&seg.path, &to)
                    .map_err(|e| Error::io(&seg.path, "rename retired segment", e))?;
                free.push((seg.base, to));
                return Ok(true);
            }
        }
        self.storage
            .remove_file(&seg.path)
            .map_err(|e| Error::io(&seg.path, "remove retired segment", e))?;
        Ok(false)
    }

    /// A new segment file at `base`: a recycled free file when one is kept, otherwise a
    /// newly allocated one. A free file that cannot be recycled is removed.
    pub(super) fn new_segment_file(&self, base: u64) -> Result<Segment> {
        loop {
            let Some((previous, path)) = lock(&self.disk.free).pop() else {
                break;
            };
            let ids = (self.journal_id, base, self.segment_size_bytes);
            match Segment::recycle(&*self.storage, &self.dir, &path, previous, ids) {
                Ok(Some(seg)) => return Ok(seg),
                Err(e) if segment::is_sync_failure(&e) => return Err(e),
                outcome => {
                    if let Err(e) = outcome {
                        tracing::warn!(error = %e, path = %path.display(), "could not recycle a retired segment; removing it");
                    }
                    if let Err(e) = self.storage.remove_file(&path) {
                        tracing::warn!(error = %e, path = %path.display(), "could not remove a retired segment");
                    }
                }
            }
        }
        Segment::create(
            &*self.storage,
            &self.dir,
            self.journal_id,
            base,
            self.segment_size_bytes,
        )
    }

    /// Bytes of the live segment files, the free ones and one more segment.
    fn segment_bytes_after_roll(&self) -> u64 {
        let table = lock(&self.segments);
        let live: u64 = table
            .by_base
            .values()
            .map(|s| s.header.segment_size_bytes)
            .sum();
        let spare = table
            .spare
            .as_ref()
            .map_or(0, |s| s.header.segment_size_bytes);
        drop(table);
        let free = lock(&self.disk.free).len() as u64 * self.segment_size_bytes;
        // The next segment is the spare when there is one, otherwise a new file
        // (recycled from a free one when there is one: then it adds nothing).
        let next = if spare > 0 || free > 0 {
            0
        } else {
            self.segment_size_bytes
        };
        live + spare + free + next
    }

    /// Whether the preallocator may make a spare now without going over the bound.
    pub(super) fn spare_fits(&self) -> bool {
        self.disk
            .max_segment_bytes
            .is_none_or(|limit| self.segment_bytes_after_roll() <= limit)
    }

    /// The disk bound at roll-over: with live segment bytes (plus the next segment) over
    /// `max_segment_bytes`, runs one compaction in the rolling thread and checks again.
    /// Appenders wait for the roll as they do for a segment creation, for at most one
    /// compaction (a flush, a fold of the frames since the last snapshot, a snapshot
    /// write and the retirement).
    ///
    /// # Errors
    /// [`Error::SegmentLimit`] when compaction could not get under the bound (a reader,
    /// cursor, retained checkpoint or kept snapshot needs the segments), or the
    /// compaction's own error. Nothing acknowledged is lost; the next append retries.
    pub(super) fn enforce_segment_limit(&self) -> Result<()> {
        let Some(limit) = self.disk.max_segment_bytes else {
            return Ok(());
        };
        if self.segment_bytes_after_roll() <= limit {
            return Ok(());
        }
        let Some(compact) = self.disk.compact.as_ref() else {
            return Ok(());
        };
        let _span =
            tracing::info_span!("segment_limit", dir = %self.dir.display(), limit).entered();
        let report = compact()?;
        let needed = self.segment_bytes_after_roll();
        if needed <= limit {
            return Ok(());
        }
        self.drop_free_files();
        let needed = self.segment_bytes_after_roll();
        if needed <= limit {
            return Ok(());
        }
        Err(Error::SegmentLimit {
            dir: self.dir.clone(),
            limit,
            needed,
            floor: report.floor,
            first: Lsn(lock(&self.segments)
                .by_base
                .keys()
                .next()
                .copied()
                .unwrap_or(0)),
        })
    }

    /// Removes every free file (the bound counts them; close removes them too).
    pub(crate) fn drop_free_files(&self) {
        let taken = std::mem::take(&mut *lock(&self.disk.free));
        for (_, path) in &taken {
            if let Err(e) = self.storage.remove_file(path) {
                tracing::warn!(error = %e, path = %path.display(), "could not remove a retired segment");
            }
        }
    }
}
