//! The published and durable frontiers, group commit, and poisoning.
//!
//! `published` is the LSN below which every frame is published; it advances by walking
//! publication words from where it stands (frames publish out of order, the frontier
//! never passes a gap). `durable` is the LSN below which every frame is also on disk.
//! Group commit is the leader/follower scheme of `PostgreSQL`'s WAL flush and `RocksDB`'s
//! write group: one flusher at a time holds `flush_lock`; a caller that arrives during
//! a flush waits for the lock, finds its LSN covered by the flush that just finished,
//! and returns without a system call of its own.
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
use crate::sync::{self, lock, Arc, AtomicBool, AtomicU64, CachePadded, Condvar, Mutex, Ordering};

/// Frontier state shared by appenders, flushers and readers.
#[derive(Debug)]
pub(crate) struct Frontier {
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
    durable_changed: Condvar,
    waiters: Mutex<()>,
}

impl Frontier {
    pub(crate) fn new(end: u64) -> Frontier {
        Frontier {
            published: CachePadded::new(AtomicU64::new(end)),
            durable: CachePadded::new(AtomicU64::new(end)),
            poisoned: AtomicBool::new(false),
            cause: Mutex::new(None),
            flush_lock: Mutex::new(()),
            flushes: AtomicU64::new(0),
            durable_changed: Condvar::new(),
            waiters: Mutex::new(()),
        }
    }

    /// The durable frontier for a frame header's claim (may be stale, never ahead).
    #[inline]
    pub(crate) fn durable_hint(&self) -> u64 {
        self.durable.load(Ordering::Relaxed)
    }

    pub(crate) fn durable(&self) -> Lsn {
        // Acquire: pairs with the Release store in `flush_to`.
        Lsn(self.durable.load(Ordering::Acquire))
    }

    pub(crate) fn published(&self) -> u64 {
        // Acquire: pairs with the Release fetch_max in `advance_published`.
        self.published.load(Ordering::Acquire)
    }

    pub(crate) fn flush_count(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn check_poison(&self) -> Result<()> {
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

    fn poison(&self, err: &Error) {
        let mut cause = lock(&self.cause);
        if cause.is_none() {
            *cause = Some((self.durable(), err.to_string()));
        }
        // Release: pairs with the Acquire in `check_poison`.
        self.poisoned.store(true, Ordering::Release);
        tracing::error!(error = %err, durable = %self.durable(), "journal poisoned by a failed flush");
    }
}

/// Walks publication words from the published frontier as far as frames are published.
pub(crate) fn advance_published(log: &Log) -> u64 {
    let table = lock(&log.segments);
    let start = log.frontier.published();
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
    drop(table);
    if pos > start {
        // Release: pairs with the Acquire in `Frontier::published`.
        log.frontier.published.fetch_max(pos, Ordering::Release);
    }
    pos.max(start)
}

/// Makes every frame below `target` durable, sharing one sync with concurrent callers.
pub(crate) fn flush_to(log: &Log, target: Lsn) -> Result<Lsn> {
    let frontier = &log.frontier;
    if frontier.durable() >= target {
        return Ok(frontier.durable());
    }
    frontier.check_poison()?;
    let guard = lock(&frontier.flush_lock);
    frontier.check_poison()?;
    if frontier.durable() >= target {
        return Ok(frontier.durable());
    }
    let mut round = 0;
    let mut published = advance_published(log);
    while published < target.0 {
        sync::backoff(&mut round);
        published = advance_published(log);
    }
    let from = frontier.durable().0;
    let _span = tracing::debug_span!("flush", from, to = published).entered();
    if let Err(err) = sync_range(log, from, published) {
        frontier.poison(&err);
        drop(guard);
        frontier.durable_changed.notify_all();
        return Err(err);
    }
    frontier.flushes.fetch_add(1, Ordering::Relaxed);
    // Release: pairs with the Acquire in `Frontier::durable`.
    frontier.durable.store(published, Ordering::Release);
    drop(guard);
    let _w = lock(&frontier.waiters);
    frontier.durable_changed.notify_all();
    Ok(Lsn(published))
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

/// Blocks until `lsn` is durable (or `timeout` passes); returns the durable frontier.
pub(crate) fn wait_durable(log: &Log, lsn: Lsn, timeout: Duration) -> Result<Lsn> {
    let frontier = &log.frontier;
    let deadline = std::time::Instant::now() + timeout;
    let mut guard = lock(&frontier.waiters);
    loop {
        frontier.check_poison()?;
        let durable = frontier.durable();
        let now = std::time::Instant::now();
        if durable > lsn || now >= deadline {
            return Ok(durable);
        }
        guard = match frontier.durable_changed.wait_timeout(guard, deadline - now) {
            Ok((g, _)) => g,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}

/// The background flusher of `Durability::Interval`.
#[derive(Debug)]
pub(crate) struct IntervalFlusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl IntervalFlusher {
    pub(crate) fn start(log: &Arc<Log>, every: Duration) -> IntervalFlusher {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let log = Arc::clone(log);
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("cpj-flusher".into())
            .spawn(move || interval_loop(&log, &stop2, every))
            .ok();
        IntervalFlusher { stop, handle }
    }

    pub(crate) fn stop(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn interval_loop(log: &Log, stop: &(Mutex<bool>, Condvar), every: Duration) {
    let mut stopped = lock(&stop.0);
    while !*stopped {
        stopped = match stop.1.wait_timeout(stopped, every) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
        if *stopped {
            break;
        }
        let target = log.reserved_end();
        if let Err(e) = flush_to(log, target) {
            tracing::error!(error = %e, "interval flush failed; the journal is poisoned");
            break;
        }
    }
}

/// Makes everything reserved so far durable.
pub(crate) fn flush_all(log: &Log) -> Result<Lsn> {
    let target = log.reserved_end();
    flush_to(log, target)
}
