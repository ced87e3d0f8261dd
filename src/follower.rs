//! `JournalReader`: a read-only follower of a journal directory. It takes no lock and
//! maps segments read-only, so it can run beside a writer in another process and follow
//! it through the shared page cache: a frame is returned once its publication word is
//! visible and its LSN-bound checksum holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Corruption, CorruptionKind, Error, Result};
use crate::format::frame::{FrameFault, FrameKind, FRAME_HEADER_LEN};
use crate::lsn::Lsn;
use crate::reader::Frame;
use crate::region;
use crate::segment::{self, Segment};
use crate::storage::{FsStorage, Storage};
use crate::sync::Arc;

/// A read-only follower of a journal, in this process or another.
#[derive(Debug)]
pub struct JournalReader {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    journal_id: Option<u128>,
    segments: BTreeMap<u64, Arc<Segment>>,
    pos: u64,
    scratch: Vec<u8>,
}

impl JournalReader {
    /// Opens `dir` read-only, positioned at the oldest frame.
    ///
    /// # Errors
    /// A segment that fails header validation, or an I/O error.
    pub fn open(dir: impl AsRef<Path>) -> Result<JournalReader> {
        JournalReader::open_with_storage(dir, Arc::new(FsStorage))
    }

    /// As [`JournalReader::open`], on `storage`.
    ///
    /// # Errors
    /// As [`JournalReader::open`].
    pub fn open_with_storage(
        dir: impl AsRef<Path>,
        storage: Arc<dyn Storage>,
    ) -> Result<JournalReader> {
        let mut reader = JournalReader {
            dir: dir.as_ref().to_path_buf(),
            storage,
            journal_id: None,
            segments: BTreeMap::new(),
            pos: 0,
            scratch: Vec::new(),
        };
        reader.refresh()?;
        reader.pos = reader.segments.keys().next().copied().unwrap_or(0);
        Ok(reader)
    }

    /// The journal's identity, once a segment has been seen.
    #[must_use]
    pub fn journal_id(&self) -> Option<u128> {
        self.journal_id
    }

    /// The LSN of the next frame.
    #[must_use]
    pub fn position(&self) -> Lsn {
        Lsn(self.pos)
    }

    /// Continues from `lsn` (a frame's start, as returned by an append or a read).
    pub fn seek(&mut self, lsn: Lsn) {
        self.pos = lsn.0;
    }

    /// Picks up segment files created since the last look.
    ///
    /// # Errors
    /// A new segment that fails validation, or an I/O error listing the directory.
    pub fn refresh(&mut self) -> Result<()> {
        let listing = self
            .storage
            .list_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, "list directory", e))?;
        let mut fresh: Vec<(u64, PathBuf)> = listing
            .into_iter()
            .filter(|d| d.is_file)
            .filter_map(|d| segment::parse_name(&d.name).map(|base| (base, self.dir.join(&d.name))))
            .filter(|(base, _)| !self.segments.contains_key(base))
            .collect();
        fresh.sort_by_key(|(base, _)| *base);
        for (base, path) in fresh {
            match Segment::open(&*self.storage, &path, base, self.journal_id, false) {
                Ok(seg) => {
                    self.journal_id.get_or_insert(seg.header.journal_id);
                    self.segments.insert(base, Arc::new(seg));
                }
                // A segment being created right now has no durable header yet; retry later.
                Err(Error::Corrupted(Corruption {
                    kind: CorruptionKind::SegmentHeader(_),
                    ..
                })) if self
                    .segments
                    .keys()
                    .next_back()
                    .is_none_or(|last| *last < base) => {}
                Err(Error::Io { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let live: Vec<u64> = self.segments.keys().copied().collect();
        for base in live {
            if let Some(seg) = self.segments.get(&base).filter(|s| !s.path.exists()) {
                tracing::debug!(path = %seg.path.display(), "segment retired");
                self.segments.remove(&base);
            }
        }
        Ok(())
    }

    /// The next frame if it is already published, without waiting.
    ///
    /// # Errors
    /// [`Error::Corrupted`] for a published frame whose checksum fails.
    pub fn try_next(&mut self) -> Result<Option<Frame>> {
        loop {
            let Some(seg) = self.segment_for(self.pos)? else {
                return Ok(None);
            };
            let room = seg.end() - self.pos;
            if room < FRAME_HEADER_LEN as u64 {
                self.pos = seg.end();
                continue;
            }
            let at = seg.word_at(self.pos);
            let header = match region::read_header(
                seg.data(),
                at,
                self.pos,
                usize::try_from(room).unwrap_or(usize::MAX),
            ) {
                Ok(h) => h,
                Err(FrameFault::Unwritten) if seg.header_changed() => return Err(self.compacted()),
                Err(FrameFault::Unwritten) => return Ok(None),
                Err(_) if !self.still_named(&seg) => return Err(self.compacted()),
                Err(fault) => return Err(seg.corrupted(self.pos, CorruptionKind::Frame(fault))),
            };
            let lsn = Lsn(self.pos);
            match header.kind {
                FrameKind::Padding => self.pos += header.frame_len() as u64,
                FrameKind::Entries => {
                    let mut entries = Vec::new();
                    region::read_entries(seg.data(), at, &header, &mut entries);
                    self.pos += header.frame_len() as u64;
                    return Ok(Some(Frame::Entries { lsn, entries }));
                }
                FrameKind::Checkpoint => {
                    region::read_bytes(seg.data(), at, &header, &mut self.scratch);
                    let frame = crate::reader::decode_checkpoint(&seg, lsn, &self.scratch)?;
                    self.pos += header.frame_len() as u64;
                    return Ok(Some(frame));
                }
                FrameKind::Meta => {
                    region::read_bytes(seg.data(), at, &header, &mut self.scratch);
                    let frame = crate::reader::decode_meta(&seg, lsn, &self.scratch)?;
                    self.pos += header.frame_len() as u64;
                    return Ok(Some(frame));
                }
            }
        }
    }

    /// The next frame, waiting up to `timeout` for the writer to publish it. The wait
    /// polls with a backoff (spin, then sleeps up to 1 ms): across processes there is no
    /// cheaper wake-up that leaves the writer's hot path untouched.
    ///
    /// # Errors
    /// As [`JournalReader::try_next`].
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Frame>> {
        crate::reader::poll_until(timeout, || self.try_next())
    }

    /// Whether `seg` still has its name. A segment compaction retired may be recycled:
    /// its file renamed, zeroed and reused at a new base, under this reader's mapping.
    /// Checked only when a frame fails validation (a zero publication word, the tail's
    /// usual state, is checked against the header instead: recycling rewrites it right
    /// after zeroing).
    fn still_named(&self, seg: &Segment) -> bool {
        if self.segments.keys().next_back() == Some(&seg.base()) {
            return true;
        }
        let name = seg.path.file_name();
        self.storage.list_dir(&self.dir).map_or(true, |items| {
            items.iter().any(|i| Some(i.name.as_os_str()) == name)
        })
    }

    /// The error of a position whose segment compaction retired under this reader.
    fn compacted(&mut self) -> Error {
        let requested = Lsn(self.pos);
        let _ = self.refresh();
        let oldest = self.segments.keys().next().copied().unwrap_or(self.pos);
        let snapshot = crate::snapshot::list(&*self.storage, &self.dir)
            .ok()
            .and_then(|l| l.snapshots.first().map(|(lsn, _)| *lsn))
            .unwrap_or(oldest);
        Error::Compacted {
            requested,
            oldest_available: Lsn(oldest),
            snapshot_lsn: Lsn(snapshot),
        }
    }

    fn segment_for(&mut self, pos: u64) -> Result<Option<Arc<Segment>>> {
        let find = |s: &BTreeMap<u64, Arc<Segment>>| {
            s.range(..=pos)
                .next_back()
                .map(|(_, seg)| Arc::clone(seg))
                .filter(|seg| seg.contains(pos))
        };
        if let Some(seg) = find(&self.segments) {
            return Ok(Some(seg));
        }
        self.refresh()?;
        Ok(find(&self.segments))
    }
}

impl Iterator for JournalReader {
    type Item = Result<Frame>;

    /// Frames up to what is published now; `None` at the current end (call again later
    /// to continue following).
    fn next(&mut self) -> Option<Result<Frame>> {
        self.try_next().transpose()
    }
}
