//! The draining end of a [`ChangelogRing`](super::ChangelogRing): optimistic copies
//! claimed by compare-and-swap (the protocol is in the parent module's docs), batches
//! appended to a [`Journal`] with `append_batch`, and an optional background thread.
//!
//! A batch whose append fails stays with the drainer and is appended first by the next
//! [`RingDrainer::drain_into`]: nothing taken out of the ring is lost without a count.

use std::fmt;
use std::time::Duration;

use super::{RingMonitor, RingStats, Shared};
use crate::entry::{Entry, ENTRY_WORDS};
use crate::error::{Error, Result};
use crate::format::limits::BATCH_ENTRIES_MAX;
use crate::journal::Journal;
use crate::sync::{Arc, AtomicBool, Ordering};

/// Entries per `append_batch` by default: one frame of 24 KiB.
const BATCH_DEFAULT: usize = 1024;

/// The draining end: one per ring, `Send` but not `Clone` (single drainer).
pub struct RingDrainer {
    shared: Arc<Shared>,
    /// Entries taken from the ring whose append has not succeeded yet.
    pending: Vec<Entry>,
    /// Most entries per `append_batch`.
    batch_max: usize,
}

impl fmt::Debug for RingDrainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingDrainer")
            .field("ring", &self.shared)
            .field("pending", &self.pending.len())
            .field("batch_max", &self.batch_max)
            .finish()
    }
}

impl RingDrainer {
    pub(super) fn new(shared: Arc<Shared>) -> RingDrainer {
        RingDrainer {
            shared,
            pending: Vec::new(),
            batch_max: BATCH_DEFAULT,
        }
    }

    /// Sets the most entries per `append_batch` (clamped to 1 ..= the frame limit).
    #[must_use]
    pub fn batch_max(mut self, entries: usize) -> RingDrainer {
        self.batch_max = entries.clamp(1, BATCH_ENTRIES_MAX);
        self
    }

    /// Takes up to `max` of the oldest entries out of the ring, appending them to `out`
    /// in push order; returns how many. Entries the producer evicts while they are being
    /// copied are skipped (and counted as overwritten by the producer), never delivered.
    pub fn pop_batch(&mut self, out: &mut Vec<Entry>, max: usize) -> usize {
        let shared = &*self.shared;
        loop {
            // Relaxed: only a starting guess; the claim below validates it.
            let head = shared.head.load(Ordering::Relaxed);
            // Acquire: the slots below `tail` are written (pairs with the producer's
            // Release store of `tail`).
            let tail = shared.tail.load(Ordering::Acquire);
            let count = tail.saturating_sub(head).min(max as u64);
            if count == 0 {
                return 0;
            }
            let start = out.len();
            copy_positions(shared, head, count, out);
            if let Some(taken) = claim(shared, head, count) {
                let skipped = usize::try_from(count - taken).unwrap_or(usize::MAX);
                out.drain(start..start + skipped);
                let drained = shared.drained.load(Ordering::Relaxed);
                shared.drained.store(drained + taken, Ordering::Relaxed);
                return usize::try_from(taken).unwrap_or(usize::MAX);
            }
            // Every copied position was evicted meanwhile: start again from the new head.
            out.truncate(start);
        }
    }

    /// Moves what the ring holds now (at most one capacity's worth, so a producer that
    /// never pauses cannot keep this call running) into `journal`, in batches of
    /// [`RingDrainer::batch_max`] entries, one `append_batch` each. Returns the entries
    /// appended.
    ///
    /// # Errors
    /// The journal's error; the batch that failed stays with the drainer and is appended
    /// first by the next call.
    pub fn drain_into(&mut self, journal: &Journal) -> Result<u64> {
        let mut budget = usize::try_from(self.shared.capacity()).unwrap_or(usize::MAX);
        let mut appended = 0u64;
        loop {
            if self.pending.is_empty() {
                let mut batch = std::mem::take(&mut self.pending);
                let taken = self.pop_batch(&mut batch, self.batch_max.min(budget));
                self.pending = batch;
                if taken == 0 {
                    return Ok(appended);
                }
                budget -= taken;
            }
            journal.append_batch(&self.pending)?;
            appended += self.pending.len() as u64;
            self.pending.clear();
        }
    }

    /// Runs [`RingDrainer::drain_into`] on a background thread until
    /// [`DrainerThread::stop`]; when a pass finds the ring empty, the thread sleeps
    /// `idle` before the next. The thread stops at the first journal error and hands
    /// it, with the drainer, to `stop`.
    ///
    /// # Errors
    /// The OS error if the thread cannot be started.
    pub fn spawn_into(self, journal: Arc<Journal>, idle: Duration) -> Result<DrainerThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_seen = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("cpj-ring-drainer".into())
            .spawn(move || drain_loop(self, &journal, &stop_seen, idle))
            .map_err(|e| Error::io(std::path::PathBuf::new(), "spawn ring drainer", e))?;
        Ok(DrainerThread {
            stop,
            handle: Some(handle),
        })
    }

    /// Entries taken out of the ring whose append has not succeeded yet.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The ring's counters now.
    #[must_use]
    pub fn stats(&self) -> RingStats {
        self.shared.stats()
    }

    /// A read-only view of the counters, for another thread.
    #[must_use]
    pub fn monitor(&self) -> RingMonitor {
        RingMonitor {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Copies positions `[head, head + count)` into `out`. Some may be torn by a concurrent
/// eviction; the claim tells which are intact.
fn copy_positions(shared: &Shared, head: u64, count: u64, out: &mut Vec<Entry>) {
    debug_assert!(count <= shared.capacity(), "a batch larger than the ring");
    out.reserve(usize::try_from(count).unwrap_or(0));
    // At most two contiguous runs of slots: up to the end of the ring, then from its start.
    let mut position = head;
    let end = head + count;
    while position < end {
        let at = shared.slot_index(position);
        let run_entries = (end - position).min(shared.capacity() - (position & shared.mask));
        let run_words = usize::try_from(run_entries).unwrap_or(0) * ENTRY_WORDS;
        let run = shared.slots.get(at..at + run_words).unwrap_or_default();
        debug_assert_eq!(run.len(), run_words, "a run past the end of the ring");
        for slot in run.chunks_exact(ENTRY_WORDS) {
            let mut words = [0u64; ENTRY_WORDS];
            for (value, word) in words.iter_mut().zip(slot) {
                *value = word.load(Ordering::Relaxed);
            }
            out.push(Entry::from_words(words));
        }
        position += run_entries;
    }
}

/// Claims the copied positions `[head, head + count)`: returns how many at the end of
/// the range are intact and now taken, or `None` if the producer evicted all of them.
#[cfg(not(cpj_mutant_ring_store_claim))]
fn claim(shared: &Shared, head: u64, count: u64) -> Option<u64> {
    let end = head + count;
    let mut from = head;
    loop {
        // AcqRel: releases the copies above to the producer, whose Acquire load of `head`
        // must see them done before it overwrites a slot; Acquire on failure orders the
        // retry after the eviction that moved `head`.
        match shared
            .head
            .compare_exchange(from, end, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return Some(end - from),
            Err(now) if now >= end => return None,
            Err(now) => {
                debug_assert!(now > from, "head moved backwards");
                from = now;
            }
        }
    }
}

/// The mutant `cfg(cpj_mutant_ring_store_claim)`: claims with a plain store, blind to a
/// concurrent eviction, only to show that `loom-tests/tests/ring.rs` catches it.
#[cfg(cpj_mutant_ring_store_claim)]
fn claim(shared: &Shared, head: u64, count: u64) -> Option<u64> {
    shared.head.store(head + count, Ordering::Release);
    Some(count)
}

fn drain_loop(
    mut drainer: RingDrainer,
    journal: &Journal,
    stop: &AtomicBool,
    idle: Duration,
) -> (RingDrainer, Result<()>) {
    loop {
        // Acquire: pairs with the Release store in `DrainerThread::stop`, so the final
        // pass below sees every push made before `stop` was called.
        let stopping = stop.load(Ordering::Acquire);
        match drainer.drain_into(journal) {
            Err(e) => return (drainer, Err(e)),
            Ok(0) if stopping => return (drainer, Ok(())),
            Ok(0) => std::thread::sleep(idle),
            Ok(_) => {}
        }
    }
}

/// A background drainer started by [`RingDrainer::spawn_into`]; stopped (after a final
/// pass) by [`DrainerThread::stop`] or on drop.
#[derive(Debug)]
pub struct DrainerThread {
    /// Set once by `stop` (Release; the thread loads it with Acquire).
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<(RingDrainer, Result<()>)>>,
}

impl DrainerThread {
    /// Stops the thread after a last pass that drains everything pushed before this
    /// call; returns the drainer, with the journal error that stopped it early, if any
    /// (the failed batch is still pending in the drainer).
    ///
    /// # Panics
    /// Re-raises a panic of the drainer thread.
    pub fn stop(mut self) -> (RingDrainer, Result<()>) {
        self.join()
            .expect("the thread is joined only once, by stop or drop")
    }

    fn join(&mut self) -> Option<(RingDrainer, Result<()>)> {
        // Release: every push made before this call is visible to the final pass.
        self.stop.store(true, Ordering::Release);
        match self.handle.take()?.join() {
            Ok(stopped) => Some(stopped),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for DrainerThread {
    fn drop(&mut self) {
        if let Some((_, Err(e))) = self.join() {
            tracing::warn!(error = %e, "ring drainer stopped on a journal error");
        }
    }
}
