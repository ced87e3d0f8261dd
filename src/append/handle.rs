//! [`Appender`]: a per-thread handle for single-entry appends that holds its own segment
//! cache entry, so the hot path has no thread-local lookup and no `RefCell` borrow.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use super::cache::{CachedSegment, OnePlaced, ONE_ENTRY_FRAME_LEN};
use crate::entry::Entry;
use crate::error::Result;
use crate::journal::Journal;
use crate::lsn::Lsn;
use crate::region;

/// A per-thread append handle: [`Journal::append`] of one entry, with the writable
/// segment cached in the handle itself.
///
/// Made by [`Journal::appender`] (borrowing the journal) or [`Appender::new`] (with any
/// owner of a journal, such as an `Arc<Journal>`). Each thread that appends a lot makes
/// its own handle; the handle is neither `Send` nor `Sync`, and [`Appender::append`]
/// takes `&mut self`. Handles on several threads, and [`Journal::append`] /
/// [`Journal::append_batch`] on any thread, share the journal's one lock-free
/// reservation, so their frames interleave exactly as appends through the journal do.
///
/// Semantics are those of [`Journal::append`]: the same frame (one one-entry frame),
/// the same LSN order, the same durability mode (in `Sync` mode `append` returns once
/// the frame is durable, through the same group commit), and the same poisoning (after
/// a failed flush every append through any handle returns [`crate::Error::Poisoned`]).
/// A roll-over to the next segment, or a compaction that retires segments, only makes
/// the next append through the handle take the slow path once, which refreshes the
/// cached segment.
///
/// The handle keeps the segment it last appended to mapped (as the per-thread cache of
/// [`Journal::append`] does): drop idle handles so that a retired segment's disk space
/// is released.
///
/// ```
/// # use checkpoint_journal::{Durability, Entry, Journal, Options};
/// # fn main() -> checkpoint_journal::Result<()> {
/// # let dir = std::env::temp_dir().join(format!("cpj-appender-doc-{}", std::process::id()));
/// let journal = Journal::open(&dir, Options::default().durability(Durability::Async))?;
/// let mut appender = journal.appender();
/// let first = appender.append(Entry::push(7, 1, 1_000))?;
/// let second = appender.append(Entry::push(7, 2, 1_010))?;
/// assert!(second > first);
/// drop(appender);
/// journal.close()?;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(())
/// # }
/// ```
pub struct Appender<J: Deref<Target = Journal>> {
    /// The cached writable segment (declared first: released before `journal`).
    cached: Option<CachedSegment>,
    journal: J,
    /// Not `Send`, not `Sync`: the cache entry's counter block is the creating thread's.
    _per_thread: PhantomData<*const ()>,
}

impl<J: Deref<Target = Journal>> Appender<J> {
    /// A handle appending to `journal`; the first append fills its segment cache.
    pub fn new(journal: J) -> Appender<J> {
        Appender {
            cached: None,
            journal,
            _per_thread: PhantomData,
        }
    }

    /// The journal this handle appends to.
    #[must_use]
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Appends one entry as a one-entry frame; returns its frame's LSN. In `Sync` mode,
    /// returns once durable. Exactly [`Journal::append`], without its per-thread cache
    /// lookup.
    ///
    /// # Errors
    /// [`crate::Error::Poisoned`], or a segment that could not be created (full disk).
    #[inline]
    pub fn append(&mut self, entry: Entry) -> Result<Lsn> {
        let journal: &Journal = &self.journal;
        let log = journal.log();
        log.frontier.check_poison()?;
        let placed = match &self.cached {
            Some(c) => log.place_one_in(c, &entry),
            None => OnePlaced::NotReserved,
        };
        let lsn = match placed {
            OnePlaced::At(lsn) => {
                #[cfg(feature = "tokio")]
                log.wake.after_publish();
                lsn
            }
            other => self.append_slow(other, &entry)?,
        };
        self.journal.after_append(Lsn(lsn + ONE_ENTRY_FRAME_LEN))?;
        Ok(Lsn(lsn))
    }

    /// The rest of [`Appender::append`] when the cached segment did not take the frame
    /// (no cache entry yet, the segment end, a roll): the journal's slow path with the
    /// reservation already made, then a cache entry for the segment now active.
    #[cold]
    #[inline(never)]
    fn append_slow(&mut self, placed: OnePlaced, entry: &Entry) -> Result<u64> {
        let log = self.journal.log();
        let reserved = match placed {
            OnePlaced::Reserved(word) => Some(region::unpack_reservation(word)),
            OnePlaced::At(_) | OnePlaced::NotReserved => None,
        };
        let (lsn, _) = log.append_one_slow(reserved, entry)?;
        self.cached = log.cache_for_active(self.cached.take());
        Ok(lsn.0)
    }
}

impl<J: Deref<Target = Journal>> fmt::Debug for Appender<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Appender")
            .field("dir", &self.journal.dir())
            .field("cached", &self.cached.is_some())
            .finish_non_exhaustive()
    }
}
