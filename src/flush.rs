//! The published and durable frontiers, group commit, and poisoning.
//!
//! `published` is the LSN below which every frame is published; it advances by walking
//! publication words from where it stands (frames publish out of order, the frontier
//! never passes a gap). `durable` is the LSN below which every frame is also on disk.
//! Group commit is the leader/follower scheme of `PostgreSQL`'s WAL flush and `RocksDB`'s
//! write group: one flusher at a time holds `flush_lock`; a caller that arrives during
//! a flush waits for the lock, finds its LSN covered by the flush that just finished,
//! and returns without a system call of its own. Before it syncs, a leader waits briefly
//! for the writers the last flush served to come back (`PostgreSQL`'s `commit_delay` /
//! `commit_siblings`, made adaptive): without that, writers that each wait for their own
//! append split into two cohorts, one synced while the other gathers.
//!
//! Invariant: `durable <= published <= reserved end`. An msync/fdatasync failure sets
//! `poisoned` before the lock is released, so no caller can observe a durable frontier
//! that includes data whose flush failed (the lesson of `PostgreSQL`'s fsync bug: after a
//! failed fsync the kernel may have dropped the dirty pages, and a retry succeeds with
//! the data gone).

use std::time::Duration;

use crate::append::Log;
use crate::error::{Error, Result};
use crate::format::frame::FRAME_HEADER_LEN;
use crate::lsn::Lsn;
use crate::region;
use crate::stats::counters::FlushCounters;
use crate::stats::lag::LagClock;
use crate::sync::{
    self, lock, thread, Arc, AtomicBool, AtomicU64, CachePadded, Condvar, Mutex, MutexGuard,
    Ordering, TryLockError,
};

mod interval;
#[cfg(test)]
mod tests;
mod wait;

pub(crate) use interval::IntervalFlusher;
pub(crate) use wait::wait_durable;

/// The flush epoch and the counts behind the adaptive gather, under `Frontier::waiters`.
#[derive(Debug, Default)]
struct Waiters {
    /// Advanced each time a leader finishes, and whenever the durable frontier or the
    /// poison flag changes.
    epoch: u64,
    /// Callers that entered `flush_to` with their LSN not yet durable, ever.
    arrivals: u64,
    /// `arrivals` when the last leader took its snapshot of the published frontier:
    /// callers counted after it wait for the next flush.
    mark: u64,
    /// `mark` of the flush before the last one.
    prev_mark: u64,
    /// Callers the last flush served or left waiting: those counted between the
    /// previous flush's snapshot and the end of the last one. The next leader waits
    /// (bounded) until as many are pending, so that writers who alternate between two
    /// flushes share one.
    writers: u64,
    /// The leader parked in the adaptive gather, unparked by the arrival that completes
    /// it.
    gatherer: Option<thread::Thread>,
    /// Followers parked until the flush running now ends; the leader that ends it takes
    /// them all and unparks each, so a woken follower reads atomics only (no herd on
    /// this mutex, as a `notify_all` would make).
    parked: Vec<thread::Thread>,
    /// Followers the first follower the leader woke is to unpark (`wake_waiters`).
    handoff: Vec<thread::Thread>,
}

/// The adaptive gather waits at most the last sync's duration divided by this.
const GATHER_SYNC_DIVISOR: u64 = 2;
/// Longest adaptive gather, whatever the last sync took.
const GATHER_ADAPTIVE_MAX: Duration = Duration::from_millis(1);

/// Frontier state shared by appenders, flushers and readers.
#[derive(Debug)]
pub struct Frontier {
    /// Written by: `advance_published` (`fetch_max`, `Release`). Read by: readers, the
    /// flusher (`Acquire`). Invariant: every frame below it is published.
    published: CachePadded<AtomicU64>,
    /// Written by: the flusher holding `flush_lock` (`Release`), after a successful sync.
    /// Read by: appenders for their frame's durable claim (`Relaxed`: the claim may be
    /// stale, never ahead), waiters (`Acquire`). Invariant: `durable <= published`.
    durable: CachePadded<AtomicU64>,
    /// Set once, by the flusher whose sync failed, before it releases `flush_lock`.
    poisoned: AtomicBool,
    cause: Mutex<Option<(Lsn, String)>>,
    flush_lock: Mutex<()>,
    /// Flushes that reached storage (for group-commit statistics and tests).
    flushes: AtomicU64,
    /// Signalled with every move of the flush epoch, for `wait_durable`.
    durable_changed: Condvar,
    /// The flush epoch and the group-commit counts (see [`Waiters`]); `wait_durable`
    /// sleeps on `durable_changed` with it held; followers and a gathering leader park.
    waiters: Mutex<Waiters>,
    /// `Waiters::epoch`, stored under `waiters` when it moves: a parked follower reads it
    /// without the lock once unparked.
    epoch: AtomicU64,
    /// `Waiters::handoff` is not empty (set and cleared under `waiters`).
    handoff: AtomicBool,
    /// Nanoseconds the last successful sync took (bounds the adaptive gather).
    last_sync_ns: AtomicU64,
    // --- stats (Journal::stats) ---
    /// Syncs' bytes and latency histogram, recorded by the leader.
    pub(crate) flush_stats: FlushCounters,
    /// When the durable frontier last caught up with the published one (the durable lag
    /// in time), noted by the leader once per sync.
    pub(crate) lag: LagClock,
}

impl Frontier {
    /// A frontier where everything below `end` is published and durable.
    #[must_use]
    pub fn new(end: u64) -> Frontier {
        Frontier {
            published: CachePadded::new(AtomicU64::new(end)),
            durable: CachePadded::new(AtomicU64::new(end)),
            poisoned: AtomicBool::new(false),
            cause: Mutex::new(None),
            flush_lock: Mutex::new(()),
            flushes: AtomicU64::new(0),
            durable_changed: Condvar::new(),
            waiters: Mutex::new(Waiters::default()),
            epoch: AtomicU64::new(0),
            handoff: AtomicBool::new(false),
            last_sync_ns: AtomicU64::new(0),
            flush_stats: FlushCounters::default(),
            lag: LagClock::default(),
        }
    }

    /// The durable frontier for a frame header's claim (may be stale, never ahead).
    #[inline]
    pub(crate) fn durable_hint(&self) -> u64 {
        self.durable.load(Ordering::Relaxed)
    }

    /// The durable frontier.
    pub fn durable(&self) -> Lsn {
        // Acquire: pairs with the Release store in `flush_to`.
        Lsn(self.durable.load(Ordering::Acquire))
    }

    /// The published frontier.
    pub fn published(&self) -> u64 {
        // Acquire: pairs with the Release fetch_max in `advance_published`.
        self.published.load(Ordering::Acquire)
    }

    /// Syncs that succeeded.
    pub fn flush_count(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// `Err(Poisoned)` once a sync has failed.
    ///
    /// # Errors
    /// [`Error::Poisoned`].
    #[inline]
    pub fn check_poison(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(self.poison_error());
        }
        Ok(())
    }

    fn poison_error(&self) -> Error {
        let (durable, cause) = lock(&self.cause)
            .clone()
            .unwrap_or_else(|| (self.durable(), "an earlier flush failed".into()));
        Error::Poisoned { durable, cause }
    }

    pub(crate) fn poison(&self, err: &Error) {
        let mut cause = lock(&self.cause);
        if cause.is_none() {
            *cause = Some((self.durable(), err.to_string()));
        }
        // Release: pairs with the Acquire in `check_poison`.
        self.poisoned.store(true, Ordering::Release);
        tracing::error!(error = %err, durable = %self.durable(), "journal poisoned by a failed flush");
    }
}

/// What a flush works on: the journal's memory and files, or a model in loom-tests.
pub trait FlushTarget {
    /// From `start`, walks publication words as far as frames are published; returns
    /// the LSN reached.
    fn walk_published(&self, start: u64) -> u64;
    /// The LSN just past every reservation made so far.
    fn reserved_end(&self) -> u64;
    /// Makes `[from, to)` durable.
    ///
    /// # Errors
    /// The failed sync; the frontier poisons itself.
    fn sync(&self, from: u64, to: u64) -> Result<()>;
}

/// Bounds on how long a group-commit leader waits for company before it syncs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommit {
    /// Longest wait for more appends to join a flush. Zero (the default): adaptive, the
    /// leader waits until as many callers are pending as the last flush served or left
    /// waiting, at most half as long as the last sync took (and at most 1 ms); a lone
    /// writer never waits. Callers that arrive during a sync join the next one anyway.
    pub max_delay: Duration,
    /// Stop waiting once this many bytes are pending (zero: no byte bound).
    pub max_bytes: u64,
}

impl Frontier {
    /// Advances the published frontier as far as `target` finds frames published.
    pub fn advance(&self, target: &impl FlushTarget) -> u64 {
        let start = self.published();
        let pos = target.walk_published(start);
        debug_assert!(pos >= start, "the published frontier never moves back");
        if pos > start {
            // Release: pairs with the Acquire in `Frontier::published`.
            self.published.fetch_max(pos, Ordering::Release);
        }
        self.published()
    }

    /// Makes every frame below `lsn` durable, sharing one sync with concurrent callers.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if this or an earlier sync failed.
    ///
    /// The first caller to find no flush running leads: it syncs everything published.
    /// A caller that finds a flush running does not queue on the lock (a mutex hands it
    /// back to the leader that just released it, and each follower would then sync
    /// alone): it sleeps until that flush ends, finds its frame covered, and returns.
    pub fn flush_to(&self, lsn: u64, group: GroupCommit, target: &impl FlushTarget) -> Result<u64> {
        let mut arrived = false;
        loop {
            self.check_poison()?;
            if self.durable_now() >= lsn {
                return Ok(self.durable_now());
            }
            let Some(guard) = self.arrive(&mut arrived, lsn) else {
                continue;
            };
            let outcome = self.lead(lsn, group, target);
            // Followers sleep until the flush epoch moves: it moves after every lead,
            // whatever its outcome.
            drop(guard);
            self.wake_waiters();
            return outcome;
        }
    }

    /// Counts this caller once (unparking a gathering leader once enough are pending),
    /// then takes `flush_lock` to lead, or, if a flush is running, sleeps until it ends
    /// (the flush epoch moves) and returns `None`. The try and the registration are
    /// under `waiters`, where the leader moves the epoch and takes the parked followers,
    /// so the wake-up cannot be missed; an unpark that comes before the park makes the
    /// park return at once.
    fn arrive(&self, arrived: &mut bool, lsn: u64) -> Option<MutexGuard<'_, ()>> {
        let mut w = lock(&self.waiters);
        let mut gatherer = None;
        if !*arrived {
            *arrived = true;
            w.arrivals += 1;
            if w.arrivals.saturating_sub(w.mark) >= w.writers {
                gatherer = w.gatherer.take();
            }
        }
        let epoch = w.epoch;
        let (guard, parked) = match self.flush_lock.try_lock() {
            Ok(guard) => (Some(guard), false),
            Err(TryLockError::Poisoned(p)) => (Some(p.into_inner()), false),
            Err(TryLockError::WouldBlock) => {
                let wait = self.durable_now() < lsn && !self.poisoned.load(Ordering::Acquire);
                if wait {
                    w.parked.push(thread::current());
                }
                (None, wait)
            }
        };
        drop(w);
        if let Some(leader) = gatherer {
            leader.unpark();
        }
        // Acquire: pairs with the Release store in `wake_waiters` (the durable frontier
        // and the poison flag it follows are then visible).
        while parked && self.epoch.load(Ordering::Acquire) == epoch {
            thread::park();
        }
        if parked && self.handoff.swap(false, Ordering::Relaxed) {
            let handed = std::mem::take(&mut lock(&self.waiters).handoff);
            handed.iter().for_each(thread::Thread::unpark);
        }
        guard
    }

    /// The leader's flush, with `flush_lock` held: everything published, synced, then
    /// the frontier moved.
    fn lead(&self, lsn: u64, group: GroupCommit, target: &impl FlushTarget) -> Result<u64> {
        self.check_poison()?;
        if self.durable_now() >= lsn {
            return Ok(self.durable_now());
        }
        if group.max_delay.is_zero() {
            self.gather_adaptive();
        } else {
            self.gather(group, target);
        }
        self.take_mark();
        let mut round = 0;
        // Everything published before this moment is below the walk's end.
        let walked_at = std::time::Instant::now();
        let mut published = self.advance(target);
        // A deliberately broken variant for loom-tests/README.md: trusts the caller's
        // LSN instead of waiting for every frame below it to be published.
        if cfg!(cpj_mutant_early_durable) {
            published = published.max(lsn);
        }
        while published < lsn {
            sync::backoff(&mut round);
            published = self.advance(target);
        }
        let from = self.durable_now();
        let started = std::time::Instant::now();
        let outcome = target.sync(from, published);
        match &outcome {
            Ok(()) => {
                let took = started.elapsed();
                self.flush_stats.record(published - from, took);
                let took_ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
                self.last_sync_ns.store(took_ns, Ordering::Relaxed);
                self.flushes.fetch_add(1, Ordering::Relaxed);
                self.lag.caught_up(walked_at);
                debug_assert!(published >= from);
                // Release: pairs with the Acquire in `Frontier::durable`.
                self.durable.store(published, Ordering::Release);
            }
            Err(err) => self.poison(err),
        }
        outcome.map(|()| published)
    }

    /// Marks the callers counted so far as served by the flush about to snapshot the
    /// published frontier.
    fn take_mark(&self) {
        let mut w = lock(&self.waiters);
        w.prev_mark = w.mark;
        w.mark = w.arrivals;
    }

    /// Waits (as group-commit leader, before its snapshot) until as many callers are
    /// pending as the last flush served or left waiting, at most a fraction of the last
    /// sync's duration. Writers that each wait for their own append otherwise split into
    /// two cohorts, one synced while the other gathers, and a flush carries half of them;
    /// waiting a little for the other half costs less than a second sync. A lone writer
    /// never waits (it was the only caller of the last flush).
    fn gather_adaptive(&self) {
        if cfg!(loom) {
            return;
        }
        let bound =
            Duration::from_nanos(self.last_sync_ns.load(Ordering::Relaxed) / GATHER_SYNC_DIVISOR)
                .min(GATHER_ADAPTIVE_MAX);
        if bound.is_zero() {
            return;
        }
        let deadline = std::time::Instant::now() + bound;
        let mut w = lock(&self.waiters);
        if w.writers <= 1 {
            return;
        }
        while w.arrivals.saturating_sub(w.mark) < w.writers {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            w.gatherer = Some(thread::current());
            drop(w);
            sync::park_timeout(left);
            w = lock(&self.waiters);
        }
        w.gatherer = None;
    }

    /// Waits (as group-commit leader) for more appends, within the configured bounds.
    fn gather(&self, group: GroupCommit, target: &impl FlushTarget) {
        if group.max_delay.is_zero() {
            return;
        }
        let deadline = std::time::Instant::now() + group.max_delay;
        let mut last = target.reserved_end();
        while std::time::Instant::now() < deadline {
            let pending = last.saturating_sub(self.durable_now());
            if group.max_bytes > 0 && pending >= group.max_bytes {
                return;
            }
            std::thread::sleep(Duration::from_micros(20));
            last = target.reserved_end();
        }
    }

    fn durable_now(&self) -> u64 {
        // Acquire: pairs with the Release store in `flush_to`.
        self.durable.load(Ordering::Acquire)
    }

    /// Moves the flush epoch and wakes the `wait_durable` sleepers and the parked
    /// followers (which then read atomics, not the mutex): the leader unparks half of
    /// them, the first of those to run the other half, so that the wake-ups (a system
    /// call and a context switch each) run on two cores at once.
    fn wake_waiters(&self) {
        // The epoch moves under `waiters`, after any follower's check-then-register.
        let mine = {
            let mut w = lock(&self.waiters);
            let mut mine = std::mem::take(&mut w.parked);
            let handed = mine.split_off(mine.len() - mine.len() / 2);
            w.handoff.extend(handed);
            // Before the epoch's Release: a follower that sees the new epoch sees this.
            self.handoff.store(!w.handoff.is_empty(), Ordering::Relaxed);
            w.epoch = w.epoch.wrapping_add(1);
            // Release: pairs with the Acquire in `arrive`.
            self.epoch.store(w.epoch, Ordering::Release);
            w.writers = w.arrivals.saturating_sub(w.prev_mark);
            self.durable_changed.notify_all();
            mine
        };
        mine.iter().for_each(thread::Thread::unpark);
    }
}

impl FlushTarget for Log {
    fn walk_published(&self, start: u64) -> u64 {
        let table = lock(&self.segments);
        let mut pos = start;
        while let Some(seg) = table.find(pos) {
            let room = seg.end() - pos;
            if room < FRAME_HEADER_LEN as u64 {
                pos = seg.end();
                continue;
            }
            match region::published_len(seg.data(), seg.word_at(pos)) {
                Some(len) => pos += len as u64,
                None => break,
            }
        }
        pos
    }

    fn reserved_end(&self) -> u64 {
        Log::reserved_end(self).0
    }

    fn sync(&self, from: u64, to: u64) -> Result<()> {
        let _span = tracing::debug_span!(
            "flush",
            dir = %self.dir.display(),
            from,
            to,
            bytes = to - from
        )
        .entered();
        sync_range(self, from, to)
    }
}

/// Walks publication words from the published frontier as far as frames are published.
pub(crate) fn advance_published(log: &Log) -> u64 {
    log.frontier.advance(log)
}

/// Makes every frame below `target` durable, sharing one sync with concurrent callers.
pub(crate) fn flush_to(log: &Log, target: Lsn) -> Result<Lsn> {
    let outcome = log.frontier.flush_to(target.0, log.group_commit, log);
    #[cfg(feature = "tokio")]
    log.wake.after_flush();
    outcome.map(Lsn)
}

fn sync_range(log: &Log, from: u64, to: u64) -> Result<()> {
    let segments: Vec<_> = {
        let table = lock(&log.segments);
        table
            .by_base
            .values()
            .filter(|s| s.end() > from && s.base() < to)
            .map(Arc::clone)
            .collect()
    };
    for seg in segments {
        seg.sync(from.max(seg.base()), to.min(seg.end()))?;
    }
    Ok(())
}

/// Makes everything reserved so far durable.
pub(crate) fn flush_all(log: &Log) -> Result<Lsn> {
    let target = log.reserved_end();
    flush_to(log, target)
}
