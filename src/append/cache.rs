//! The per-thread segment cache of the append path, and the single-append fast path
//! that writes through it.
//!
//! `WRITE_CACHE` holds, per thread, the writable segment this thread last appended to
//! (with its base, capacity and generation copied out) and the thread's append counter
//! block for that journal. A hit costs one thread-local access and a shared `RefCell`
//! borrow; a miss (once per roll-over per thread) refills it under the segment-table
//! mutex, out of line.

use std::cell::RefCell;

use super::{Log, WRITABLE_KEPT};
use crate::entry::Entry;
use crate::error::Result;
use crate::format::crc::OneEntryCrc;
use crate::format::frame::FrameKind;
use crate::format::segment_header::SEGMENT_HEADER_LEN;
use crate::lsn::Lsn;
use crate::region::{self, GENERATION_MASK};
use crate::segment::Segment;
use crate::stats::counters::{CounterBlock, ThreadCounters};
use crate::storage::HeldWords;
use crate::sync::{lock, Arc, Ordering};

thread_local! {
    static WRITE_CACHE: RefCell<Option<CachedSegment>> = const { RefCell::new(None) };
}

#[derive(Debug)]
pub(super) struct CachedSegment {
    log_uid: u64,
    generation: u64,
    /// The segment's base LSN and data capacity, copied here so that the single-append
    /// fast path reads one cache entry and the mapping, nothing in between.
    base: u64,
    capacity: u64,
    segment: Arc<Segment>,
    /// This thread's append counters for this log (stats).
    counters: CounterBlock,
    /// The one-entry checksum for this CPU, detected when the entry was filled.
    crc: OneEntryCrc,
    /// The segment file's words (header included), where the storage gives them: read
    /// without the dynamic call of [`Segment::data`].
    held: Option<HeldWords>,
}

impl CachedSegment {
    /// This entry is the writable segment of `generation` (the tail's field) of the log
    /// `log_uid`, given the active full generation `active`.
    #[inline]
    fn serves(&self, log_uid: u64, generation: u64, active: u64) -> bool {
        self.log_uid == log_uid && self.serves_generation(generation, active)
    }

    /// As [`CachedSegment::serves`], for an entry already known to be this log's.
    #[inline]
    fn serves_generation(&self, generation: u64, active: u64) -> bool {
        self.generation & GENERATION_MASK == generation
            && active.wrapping_sub(self.generation) < WRITABLE_KEPT as u64
    }
}

/// Words of the segment header, before the data area.
const SEGMENT_HEADER_WORDS: usize = SEGMENT_HEADER_LEN / 8;

/// Bytes of a one-entry frame.
pub(super) const ONE_ENTRY_FRAME_LEN: u64 = region::entries_frame_len(1) as u64;

/// What the single-append fast path did (a tag and a word: returned in registers).
#[derive(Clone, Copy, Debug)]
pub(super) enum OnePlaced {
    /// Published the frame at this LSN.
    At(u64),
    /// Reserved (the packed reservation, [`region::pack_reservation`]) but did not write
    /// there (not the cached segment, or no room for the frame): the slow path continues
    /// with this reservation.
    Reserved(u64),
    /// Reserved nothing (no cache entry for this log).
    NotReserved,
}

impl Log {
    /// Appends one entry as a one-entry frame. The fast path is straight-line: one
    /// thread-local lookup (a shared `RefCell` borrow), one reservation, five stores into
    /// the cached segment. Everything else (a cache miss, the segment end, a roll) goes
    /// out of line, continuing the same reservation if one was made.
    #[inline]
    pub(super) fn append_one(&self, entry: &Entry) -> Result<(Lsn, Lsn)> {
        self.frontier.check_poison()?;
        // A one-line closure, so that `with` and the thread-local lookup inline here.
        match WRITE_CACHE.with(|cell| self.place_one_cached(cell, entry)) {
            OnePlaced::At(lsn) => {
                #[cfg(feature = "tokio")]
                self.wake.after_publish();
                Ok((Lsn(lsn), Lsn(lsn + ONE_ENTRY_FRAME_LEN)))
            }
            OnePlaced::Reserved(word) => {
                self.append_one_slow(Some(region::unpack_reservation(word)), entry)
            }
            OnePlaced::NotReserved => self.append_one_slow(None, entry),
        }
    }

    /// Reserves and writes a one-entry frame in this thread's cached segment if the cache
    /// serves this log ([`Log::place_one_in`], out of line).
    #[inline(never)]
    fn place_one_cached(&self, cell: &RefCell<Option<CachedSegment>>, entry: &Entry) -> OnePlaced {
        let Ok(cache) = cell.try_borrow() else {
            return OnePlaced::NotReserved;
        };
        let Some(c) = cache.as_ref().filter(|c| c.log_uid == self.uid) else {
            return OnePlaced::NotReserved;
        };
        self.place_one_in(c, entry)
    }

    /// Reserves and writes a one-entry frame in `c`, a cache entry of this log (the
    /// thread's, or an [`super::Appender`]'s).
    ///
    /// Everything the write needs (the segment's words, the durable hint) is loaded
    /// before the reservation: the locked fetch-add orders every later load after it, so
    /// a chain of dependent loads behind it would add its latency to every append.
    #[inline]
    pub(super) fn place_one_in(&self, c: &CachedSegment, entry: &Entry) -> OnePlaced {
        // The frame's words and the index of the data area's first word in them.
        let (data, data_at) = match &c.held {
            Some(held) => (held.words(), SEGMENT_HEADER_WORDS),
            None => (c.segment.data(), 0),
        };
        // A durable hint read before the reservation is older, so still a true claim.
        let durable = self.frontier.durable_hint();
        let (generation, offset) = self.tail.reserve(ONE_ENTRY_FRAME_LEN);
        let reserved = OnePlaced::Reserved(region::pack_reservation(generation, offset));
        let active = self.active_generation.load(Ordering::Acquire); // pairs with roll's Release
        if !c.serves_generation(generation, active) || offset + ONE_ENTRY_FRAME_LEN > c.capacity {
            return reserved;
        }
        let lsn = c.base + offset;
        let Ok(at) = usize::try_from(offset / 8) else {
            return reserved;
        };
        region::write_one_entry_with(c.crc, data, data_at + at, lsn, durable, entry);
        c.counters
            .record(FrameKind::Entries, 1, ONE_ENTRY_FRAME_LEN);
        OnePlaced::At(lsn)
    }

    /// The rest of [`Log::append_one`] when the fast path did not place the frame: with
    /// the reservation it made, or from the start.
    #[cold]
    #[inline(never)]
    pub(super) fn append_one_slow(
        &self,
        reserved: Option<(u64, u64)>,
        entry: &Entry,
    ) -> Result<(Lsn, Lsn)> {
        let chunk = std::slice::from_ref(entry);
        let tally = (FrameKind::Entries, 1);
        let write = |seg: &Segment, at, lsn, durable| {
            region::write_entries(seg.data(), at, lsn, durable, chunk);
        };
        match reserved {
            Some(reserved) => self.place_frame(reserved, ONE_ENTRY_FRAME_LEN, tally, write),
            None => self.append_frame(region::entries_frame_len(1), tally, write),
        }
    }

    /// Runs `f` on the segment of `generation` and this thread's append counters, from
    /// the thread's cache when it can.
    #[inline]
    pub(super) fn with_segment<R>(
        &self,
        generation: u64,
        f: impl FnOnce(&Segment, &ThreadCounters) -> R,
    ) -> Result<R> {
        let active = self.active_generation.load(Ordering::Acquire); // pairs with roll's Release
        WRITE_CACHE.with(|cell| {
            let mut cache = cell.borrow_mut();
            let hit = cache
                .as_ref()
                .is_some_and(|c| c.serves(self.uid, generation, active));
            if !hit {
                self.refill(&mut cache, generation)?;
            }
            // `f` runs on the cached segment while the cache is borrowed (no `Arc`
            // clone): it never re-enters the cache (a roll runs after it returns).
            match cache.as_ref() {
                Some(c) => Ok(f(&c.segment, &c.counters)),
                None => Err(self.lost_generation(generation)),
            }
        })
    }

    /// Replaces the thread's cache entry with the one for `generation` (once per roll
    /// per thread; out of line, so the hit path stays small).
    #[cold]
    #[inline(never)]
    fn refill(&self, cache: &mut Option<CachedSegment>, generation: u64) -> Result<()> {
        let counters = cache
            .take()
            .filter(|c| c.log_uid == self.uid)
            .map(|c| c.counters);
        *cache = Some(self.lookup_writable(generation, counters)?);
        Ok(())
    }

    /// A cache entry for the active segment (an [`super::Appender`]'s, after its slow
    /// path), keeping the counter block of `old`; `None` if the active generation is no
    /// longer writable (a roll under way: the next append refills again).
    pub(super) fn cache_for_active(&self, old: Option<CachedSegment>) -> Option<CachedSegment> {
        let counters = old.filter(|c| c.log_uid == self.uid).map(|c| c.counters);
        let (generation, _) = self.tail.load();
        self.lookup_writable(generation, counters).ok()
    }

    /// The cache entry for `generation`; keeps `counters` (this thread's block for this
    /// log, if the cache held it) or finds the block in the registry.
    fn lookup_writable(&self, gen: u64, counters: Option<CounterBlock>) -> Result<CachedSegment> {
        let (generation, segment) = lock(&self.segments)
            .writable_for(gen)
            .map(|(g, s)| (*g, Arc::clone(s)))
            .ok_or_else(|| self.lost_generation(gen))?;
        let counters = counters.unwrap_or_else(|| self.appends.for_this_thread());
        Ok(CachedSegment {
            log_uid: self.uid,
            generation,
            base: segment.base(),
            capacity: segment.capacity(),
            held: segment.held_words(),
            segment,
            counters,
            crc: OneEntryCrc::detect(),
        })
    }

    /// Drops this thread's cached segment if it belongs to this log, so that closing a
    /// journal releases the mapping in the closing thread (other threads release theirs
    /// when they next append to another journal, or exit).
    pub(crate) fn release_thread_cache(&self) {
        WRITE_CACHE.with(|cell| {
            if let Ok(mut cache) = cell.try_borrow_mut() {
                if cache.as_ref().is_some_and(|c| c.log_uid == self.uid) {
                    *cache = None;
                }
            }
        });
    }
}
