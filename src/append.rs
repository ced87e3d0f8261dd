//! The append path: reserve in the tail, find the segment of the reserved generation,
//! write and publish; roll to the next segment when a reservation reaches the end.
//!
//! The hot path takes no lock: the segment of a generation is found in a per-thread
//! cache (`WRITE_CACHE`), refilled under the segment-table mutex once per roll per
//! thread. A cached segment stays mapped until the thread next misses, which is why a
//! retired segment's disk space can be held by an idle thread (docs/DURABILITY.md).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc;

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::flush::{Frontier, GroupCommit};
use crate::format::frame::{FrameKind, FRAME_HEADER_LEN};
use crate::format::limits::BATCH_ENTRIES_MAX;
use crate::lsn::Lsn;
use crate::region::{self, classify, Reservation, Tail, GENERATION_MASK};
use crate::segment::Segment;
use crate::stats::counters::AppendCounters;
use crate::storage::Storage;
use crate::sync::{self, lock, Arc, AtomicU64, Mutex, Ordering};

mod cache;
mod disk;
mod handle;
mod prealloc;

pub(crate) use disk::Disk;
pub use handle::Appender;

/// Writable segments remembered per generation (older ones are only read).
const WRITABLE_KEPT: usize = 8;

/// The segment table. Guarded by `Log::segments`.
#[derive(Debug, Default)]
pub(crate) struct Segments {
    /// Every live segment by base LSN (readers, flusher, recovery).
    pub(crate) by_base: BTreeMap<u64, Arc<Segment>>,
    /// The newest segments by full generation; the back is the active one.
    writable: VecDeque<(u64, Arc<Segment>)>,
    /// The next segment, created ahead of need.
    spare: Option<Arc<Segment>>,
}

impl Segments {
    /// The segment holding `lsn`, or starting exactly at it.
    pub(crate) fn find(&self, lsn: u64) -> Option<&Arc<Segment>> {
        self.by_base
            .range(..=lsn)
            .next_back()
            .map(|(_, s)| s)
            .filter(|s| s.contains(lsn))
    }

    pub(crate) fn active(&self) -> Option<&(u64, Arc<Segment>)> {
        self.writable.back()
    }

    /// The next segment is already created (stats).
    pub(crate) fn has_spare(&self) -> bool {
        self.spare.is_some()
    }

    /// Removes the segment at `base` from the table, the writable ones included (their
    /// mapping, and a removed file's disk space, would otherwise live on until 8 newer
    /// segments had pushed it out). For compaction, which never detaches the last one.
    pub(crate) fn detach(&mut self, base: u64) -> Option<Arc<Segment>> {
        self.writable.retain(|(_, s)| s.base() != base);
        self.by_base.remove(&base)
    }

    /// The writable segment of `generation` (the tail's 28-bit field), newest first.
    fn writable_for(&self, generation: u64) -> Option<&(u64, Arc<Segment>)> {
        self.writable
            .iter()
            .rev()
            .find(|(g, _)| g & GENERATION_MASK == generation)
    }
}

/// The shared writer state of one open journal.
#[derive(Debug)]
pub(crate) struct Log {
    pub(crate) dir: PathBuf,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) journal_id: u128,
    pub(crate) segment_size_bytes: u64,
    uid: u64,
    tail: Tail,
    /// Full generation of the active segment. Written by: the roller, under `segments`
    /// (`Release`). Read by: cache validation (`Acquire`). Invariant: its low bits equal
    /// the tail's generation field once the roll's `roll_to` is visible.
    active_generation: AtomicU64,
    pub(crate) segments: Mutex<Segments>,
    /// Serialises rolls and segment creation (so the spare and a roll never both create
    /// the same file).
    roll_lock: Mutex<()>,
    pub(crate) frontier: Frontier,
    /// Group-commit bounds for `Sync` appends.
    pub(crate) group_commit: GroupCommit,
    /// The preallocator's request channel and thread; both taken by `stop_preallocator`.
    preallocator: Mutex<Option<(mpsc::Sender<u64>, std::thread::JoinHandle<()>)>>,
    /// Segment recycling and the bound on segment bytes (`append/disk.rs`).
    pub(crate) disk: Disk,
    // --- stats (Journal::stats) ---
    /// Per-thread append counts, bumped where a frame is written.
    pub(crate) appends: AppendCounters,
    /// Compaction runs, failures and what they released.
    pub(crate) compactions: crate::stats::counters::CompactionCounters,
    /// The `tokio` feature's notifiers (durable frontier, publication).
    #[cfg(feature = "tokio")]
    pub(crate) wake: crate::asynch::AsyncWake,
}

impl Log {
    /// A log whose next append goes to `lsn` in `active` (which holds it, or ends at it).
    pub(crate) fn new(
        dir: PathBuf,
        storage: Arc<dyn Storage>,
        journal_id: u128,
        segment_size_bytes: u64,
        segments: Vec<Arc<Segment>>,
        end: Lsn,
    ) -> Log {
        let mut table = Segments::default();
        // The segment holding `end` (it may be an empty one starting there); otherwise the
        // full segment ending there, whose tail then sits at capacity so that the first
        // append rolls to a new segment.
        let active = segments
            .iter()
            .find(|s| s.contains(end.0))
            .or_else(|| segments.iter().find(|s| s.end() == end.0))
            .map(Arc::clone);
        for seg in segments {
            table.by_base.insert(seg.base(), seg);
        }
        let offset = active.as_ref().map_or(0, |s| end.0 - s.base());
        if let Some(seg) = active {
            table.writable.push_back((0, seg));
        }
        Log {
            dir,
            storage,
            journal_id,
            segment_size_bytes,
            uid: sync::next_uid(),
            tail: Tail::new(0, offset),
            active_generation: AtomicU64::new(0),
            segments: Mutex::new(table),
            roll_lock: Mutex::new(()),
            frontier: Frontier::new(end.0),
            group_commit: GroupCommit::default(),
            preallocator: Mutex::new(None),
            disk: Disk::default(),
            appends: AppendCounters::default(),
            compactions: crate::stats::counters::CompactionCounters::default(),
            #[cfg(feature = "tokio")]
            wake: crate::asynch::AsyncWake::default(),
        }
    }

    /// Appends one entry frame per chunk of at most `BATCH_ENTRIES_MAX` entries (and at
    /// most what fits in a segment); returns the first frame's LSN and the end LSN.
    #[inline]
    pub(crate) fn append_entries(&self, entries: &[Entry]) -> Result<(Lsn, Lsn)> {
        // One entry always fits one frame: no chunking, no frame-size computation.
        if let [entry] = entries {
            return self.append_one(entry);
        }
        let per_frame = self.entries_per_frame();
        let mut chunks = entries.chunks(per_frame);
        let (first, mut end) = match chunks.next() {
            Some(chunk) => self.append_chunk(chunk)?,
            None => return Err(empty_batch()),
        };
        for chunk in chunks {
            end = self.append_chunk(chunk)?.1;
        }
        Ok((first, end))
    }

    /// Appends `chunk` (not empty, at most a frame's worth) as one entry frame.
    #[inline]
    fn append_chunk(&self, chunk: &[Entry]) -> Result<(Lsn, Lsn)> {
        let len = region::entries_frame_len(chunk.len());
        self.append_frame(
            len,
            (FrameKind::Entries, chunk.len()),
            |seg, at, lsn, durable| {
                region::write_entries(seg.data(), at, lsn, durable, chunk);
            },
        )
    }

    /// Appends one frame with an opaque payload.
    pub(crate) fn append_bytes(&self, kind: FrameKind, payload: &[u8]) -> Result<(Lsn, Lsn)> {
        let len = crate::format::frame::frame_len(payload.len());
        let max = self.capacity_min();
        if len as u64 > max {
            return Err(Error::TooLarge {
                what: "frame",
                bytes: len as u64,
                max,
            });
        }
        self.append_frame(len, (kind, 0), |seg, at, lsn, durable| {
            region::write_bytes(seg.data(), at, lsn, durable, kind, payload);
        })
    }

    /// Appends an empty padding frame: a marker whose header carries the durable frontier.
    pub(crate) fn append_marker(&self) -> Result<(Lsn, Lsn)> {
        let padding = (FrameKind::Padding, 0);
        self.append_frame(FRAME_HEADER_LEN, padding, |seg, at, lsn, durable| {
            region::write_padding(seg.data(), at, lsn, durable, FRAME_HEADER_LEN);
        })
    }

    /// Reserves `len` bytes, writes the frame with `write` and publishes it; returns the
    /// frame's LSN and the LSN just past it. `tally` (the frame's kind and entry count)
    /// goes to this thread's append counters.
    #[inline]
    fn append_frame(
        &self,
        len: usize,
        tally: (FrameKind, usize),
        write: impl Fn(&Segment, usize, u64, u64),
    ) -> Result<(Lsn, Lsn)> {
        self.frontier.check_poison()?;
        let len = len as u64;
        let reserved = self.tail.reserve(len);
        self.place_frame(reserved, len, tally, write)
    }

    /// Writes and publishes the frame of `len` bytes in the reservation `reserved`; on
    /// the segment end, pads, rolls and reserves again until the frame is placed.
    #[inline]
    fn place_frame(
        &self,
        reserved: (u64, u64),
        len: u64,
        tally: (FrameKind, usize),
        write: impl Fn(&Segment, usize, u64, u64),
    ) -> Result<(Lsn, Lsn)> {
        let (mut generation, mut offset) = reserved;
        let mut round = 0;
        loop {
            let outcome = self.with_segment(generation, |seg, counters| {
                match classify(generation, offset, len, seg.capacity()) {
                    Reservation::Fits { offset, .. } => {
                        let lsn = seg.base() + offset;
                        let at = seg.word_at(lsn);
                        write(seg, at, lsn, self.frontier.durable_hint());
                        counters.record(tally.0, tally.1, len);
                        Some((Lsn(lsn), Lsn(lsn + len)))
                    }
                    Reservation::MustRoll { offset, .. } => {
                        self.pad_to_end(seg, offset);
                        None
                    }
                    Reservation::Full { .. } => None,
                }
            })?;
            if let Some(frame) = outcome {
                #[cfg(feature = "tokio")]
                self.wake.after_publish();
                return Ok(frame);
            }
            self.roll(generation)?;
            sync::backoff(&mut round);
            (generation, offset) = self.tail.reserve(len);
        }
    }

    fn entries_per_frame(&self) -> usize {
        let room = self.capacity_min().saturating_sub(FRAME_HEADER_LEN as u64)
            / crate::entry::ENTRY_LEN as u64;
        usize::try_from(room)
            .unwrap_or(usize::MAX)
            .clamp(1, BATCH_ENTRIES_MAX)
    }

    /// Data capacity of a new segment: the largest frame that can always be placed.
    fn capacity_min(&self) -> u64 {
        self.segment_size_bytes - crate::format::segment_header::SEGMENT_HEADER_LEN as u64
    }

    fn pad_to_end(&self, seg: &Segment, offset: u64) {
        let room = seg.capacity() - offset;
        if room >= FRAME_HEADER_LEN as u64 {
            let lsn = seg.base() + offset;
            let len = usize::try_from(room).unwrap_or(usize::MAX);
            region::write_padding(
                seg.data(),
                seg.word_at(lsn),
                lsn,
                self.frontier.durable_hint(),
                len,
            );
        }
        // Fewer than a header's bytes left: they stay zero, and readers skip them.
    }

    #[cold]
    #[inline(never)]
    fn lost_generation(&self, generation: u64) -> Error {
        Error::io(
            &self.dir,
            "append",
            std::io::Error::other(format!("segment generation {generation} is not writable")),
        )
    }

    /// Rolls from `generation` to the next segment, unless another thread already has.
    ///
    /// Lock order: `roll_lock`, then `segments` (held only briefly, never across I/O).
    fn roll(&self, generation: u64) -> Result<()> {
        let _rolling = lock(&self.roll_lock);
        let rolled = self
            .tail
            .roll_if_current(generation, || self.install_next(generation))?;
        if rolled {
            if let Some((_, active)) = lock(&self.segments).active() {
                self.request_spare(active.end());
            }
        }
        Ok(())
    }

    /// Installs the segment after the active one; returns its full generation.
    fn install_next(&self, generation: u64) -> Result<u64> {
        let (full, active) = lock(&self.segments)
            .active()
            .map(|(g, s)| (*g, Arc::clone(s)))
            .ok_or_else(|| self.lost_generation(generation))?;
        let _span = tracing::debug_span!(
            "roll_over",
            dir = %self.dir.display(),
            segment = %crate::segment::file_name(active.end()),
            from_base = active.base(),
            next_base = active.end()
        )
        .entered();
        self.enforce_segment_limit()?;
        let next = self.obtain_segment(active.end())?;
        let mut table = lock(&self.segments);
        table.by_base.insert(next.base(), Arc::clone(&next));
        table.writable.push_back((full + 1, Arc::clone(&next)));
        if table.writable.len() > WRITABLE_KEPT {
            table.writable.pop_front();
        }
        // Release: pairs with the Acquire in `with_segment`.
        self.active_generation.store(full + 1, Ordering::Release);
        Ok(full + 1)
    }

    /// The segment starting at `base`: the spare, an existing one, or a new one.
    /// Called with `roll_lock` held.
    fn obtain_segment(&self, base: u64) -> Result<Arc<Segment>> {
        let mut table = lock(&self.segments);
        if let Some(spare) = table.spare.take().filter(|s| s.base() == base) {
            return Ok(spare);
        }
        if let Some(existing) = table.by_base.get(&base) {
            return Ok(Arc::clone(existing));
        }
        drop(table);
        Ok(Arc::new(self.create_segment(base)?))
    }

    /// Creates (or recycles) the segment at `base`; a failed sync on the way poisons the
    /// journal.
    fn create_segment(&self, base: u64) -> Result<Segment> {
        self.new_segment_file(base).inspect_err(|e| {
            if crate::segment::is_sync_failure(e) {
                self.frontier.poison(e);
                #[cfg(feature = "tokio")]
                self.wake.after_flush();
            }
        })
    }

    /// The LSN just past every reservation made so far.
    pub(crate) fn reserved_end(&self) -> Lsn {
        self.reserved_end_via(Tail::load)
    }

    /// As [`Log::reserved_end`], reading the tail with `read` (the `tokio` feature's
    /// async tail reads it through [`Tail::sync_point`]).
    pub(crate) fn reserved_end_via(&self, read: fn(&Tail) -> (u64, u64)) -> Lsn {
        let table = lock(&self.segments);
        let (generation, offset) = read(&self.tail);
        table
            .writable_for(generation)
            .map_or(Lsn(self.frontier.published()), |(_, s)| {
                Lsn(s.base() + offset.min(s.capacity()))
            })
    }
}

/// The error of an empty batch, built only when it is returned.
#[cold]
#[inline(never)]
fn empty_batch() -> Error {
    Error::InvalidOptions {
        field: "entries",
        reason: "an empty batch".into(),
    }
}
