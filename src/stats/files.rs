//! `FileStats`: stats of a journal directory from its files alone, read-only and
//! without the writer's lock, so it runs beside a writer in another process.
//!
//! It maps segments read-only and walks frame headers (each validated: LSN-bound
//! checksum) from the first segment to the first frame not (yet) published. Each
//! [`FileStats::refresh`] continues from where the last one stopped, so following a
//! live journal costs only the new frames.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{CorruptionKind, Error, Result};
use crate::format::frame::{FrameKind, FRAME_HEADER_LEN};
use crate::lsn::Lsn;
use crate::region;
use crate::segment::{self, Segment};
use crate::storage::{FsStorage, Storage};
use crate::sync::Arc;

use super::{lsn_stats, AppendStats, SegmentStats, SnapshotStats, Stats, StatsSource};

/// An incremental, read-only scan of a journal directory.
#[derive(Debug)]
pub struct FileStats {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    journal_id: Option<u128>,
    segments: BTreeMap<u64, Arc<Segment>>,
    /// The first LSN the scan saw.
    first: Option<u64>,
    /// The next frame to read.
    pos: u64,
    /// The highest durable frontier a valid frame claims.
    claim: u64,
    appends: AppendStats,
}

impl FileStats {
    /// Starts a scan of `dir` on the real filesystem.
    ///
    /// # Errors
    /// [`Error::NotFound`] if `dir` holds no segment; an I/O error listing it.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStats> {
        FileStats::open_with_storage(dir, Arc::new(FsStorage))
    }

    /// As [`FileStats::open`], on `storage`.
    ///
    /// # Errors
    /// As [`FileStats::open`].
    pub fn open_with_storage(
        dir: impl AsRef<Path>,
        storage: Arc<dyn Storage>,
    ) -> Result<FileStats> {
        let mut scan = FileStats {
            dir: dir.as_ref().to_path_buf(),
            storage,
            journal_id: None,
            segments: BTreeMap::new(),
            first: None,
            pos: 0,
            claim: 0,
            appends: AppendStats::default(),
        };
        scan.pick_up_segments()?;
        if scan.segments.is_empty() {
            return Err(Error::NotFound { path: scan.dir });
        }
        Ok(scan)
    }

    /// Reads what was published since the last call and returns the stats now.
    ///
    /// # Errors
    /// A new segment that fails validation, or an I/O error listing the directory.
    pub fn refresh(&mut self) -> Result<Stats> {
        self.pick_up_segments()?;
        if self.first.is_none() {
            let first = self.segments.keys().next().copied().unwrap_or(0);
            self.first = Some(first);
            self.pos = first;
        }
        self.walk();
        Ok(self.stats())
    }

    fn stats(&self) -> Stats {
        let first = Lsn(self.segments.keys().next().copied().unwrap_or(self.pos));
        let active = self
            .segments
            .range(..=self.pos)
            .next_back()
            .map_or(self.pos, |(base, _)| *base);
        let segment_size_bytes = self
            .segments
            .values()
            .next_back()
            .map_or(0, |s| s.header.segment_size_bytes);
        Stats {
            source: StatsSource::Files,
            dir: self.dir.clone(),
            journal_id: self.journal_id.unwrap_or(0),
            uptime_ms: None,
            appends: self.appends,
            flushes: super::FlushStats::default(),
            lsn: lsn_stats(first, Lsn(self.pos), Lsn(self.claim.min(self.pos)), None),
            segments: SegmentStats {
                live: self.segments.len() as u64,
                sealed: self.segments.range(..active).count() as u64,
                retired: 0,
                spare: self.segments.range(active + 1..).next().is_some(),
                segment_size_bytes,
            },
            snapshots: SnapshotStats::default(),
            compaction: None,
            ring: None,
            archive: None,
            poisoned: None,
        }
    }

    /// Walks frame headers from `pos` as far as frames are published and valid.
    fn walk(&mut self) {
        while let Some(seg) = self.segment_for(self.pos) {
            let room = seg.end() - self.pos;
            if room < FRAME_HEADER_LEN as u64 {
                self.pos = seg.end();
                continue;
            }
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            let Ok(header) = region::read_header(seg.data(), seg.word_at(self.pos), self.pos, room)
            else {
                // Not yet published, or damaged: `cpj verify` tells which.
                return;
            };
            let len = header.frame_len() as u64;
            self.claim = self.claim.max(header.durable_claim(self.pos));
            match header.kind {
                FrameKind::Padding => {}
                FrameKind::Entries => {
                    self.appends.entries += u64::from(header.len) / crate::entry::ENTRY_LEN as u64;
                    self.appends.entry_frames += 1;
                    self.appends.bytes += len;
                }
                FrameKind::Checkpoint => {
                    self.appends.checkpoints += 1;
                    self.appends.bytes += len;
                }
                // Meta frames (checkpoint coordination) count as other frames.
                FrameKind::Meta => {
                    self.appends.other_frames += 1;
                    self.appends.bytes += len;
                }
            }
            self.pos += len;
        }
    }

    fn segment_for(&self, pos: u64) -> Option<Arc<Segment>> {
        self.segments
            .range(..=pos)
            .next_back()
            .map(|(_, s)| Arc::clone(s))
            .filter(|s| s.contains(pos))
    }

    /// Maps segment files created since the last look; forgets removed ones.
    fn pick_up_segments(&mut self) -> Result<()> {
        let listing = self
            .storage
            .list_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, "list directory", e))?;
        let listed: Vec<(u64, PathBuf)> = listing
            .into_iter()
            .filter(|d| d.is_file)
            .filter_map(|d| segment::parse_name(&d.name).map(|b| (b, self.dir.join(&d.name))))
            .collect();
        self.segments
            .retain(|base, _| listed.iter().any(|(listed, _)| listed == base));
        let mut fresh: Vec<(u64, PathBuf)> = listed
            .into_iter()
            .filter(|(base, _)| !self.segments.contains_key(base))
            .collect();
        fresh.sort_by_key(|(base, _)| *base);
        for (base, path) in fresh {
            match Segment::open(&*self.storage, &path, base, self.journal_id, false) {
                Ok(seg) => {
                    self.journal_id.get_or_insert(seg.header.journal_id);
                    self.segments.insert(base, Arc::new(seg));
                }
                // Being created right now (no durable header yet), or just removed:
                // looked at again on the next refresh.
                Err(Error::Corrupted(c)) if matches!(c.kind, CorruptionKind::SegmentHeader(_)) => {}
                Err(Error::Io { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
