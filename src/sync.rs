//! The loom switch: every atomic, lock, `Arc`, thread-local and thread spawn that the
//! append protocol uses comes from here.
//!
//! Under `cfg(loom)` these are loom's model types, so `loom-tests/` checks the real
//! protocol code; otherwise they are std's. No other module names `std::sync` types
//! (enforced by `disallowed-types` in `clippy.toml`). Hot atomics are wrapped in
//! [`CachePadded`] so that the tail and the frontiers never share a cache line.

pub(crate) use crossbeam_utils::CachePadded;

#[cfg(loom)]
pub(crate) use loom::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    sync::{Condvar, Mutex, MutexGuard},
    thread,
};

// `Arc` is std's in both builds: the storage seam hands out `Arc<dyn Storage>` and
// `Arc<dyn MappedFile>`, and loom's `Arc` cannot hold unsized types. No invariant of the
// append or flush protocol lives in a reference count, so loom loses nothing by it.
#[cfg(loom)]
pub(crate) use std::sync::Arc;

#[cfg(not(loom))]
pub(crate) use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    sync::{Arc, Condvar, Mutex, MutexGuard},
    thread,
};

/// `Weak`, std's in both builds, as `Arc` is.
pub(crate) use std::sync::Weak;

/// The error of `Mutex::try_lock`, std's in both builds (loom reuses it).
pub(crate) use std::sync::TryLockError;

/// Locks `mutex`, recovering the guard if another thread panicked while holding it.
///
/// Every mutex in this crate protects state that stays consistent between statements
/// (counters and maps updated in one step), so a panic elsewhere does not leave it
/// half-written; propagating the poison would turn one bug into a cascade.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A process-unique number (for per-thread caches keyed by journal instance). A std
/// atomic in every build: a `static` needs a `const` constructor, which loom's lacks,
/// and uniqueness is not part of any protocol loom checks.
pub(crate) fn next_uid() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Spins briefly, then yields: the wait used while another thread finishes a step that
/// takes nanoseconds (publishing a frame, rolling a segment).
pub(crate) fn backoff(round: &mut u32) {
    // Under loom every wait must yield, or the model checker explores the spin forever.
    if cfg!(loom) {
        thread::yield_now();
        return;
    }
    *round = round.saturating_add(1);
    if *round < 64 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// Parks the current thread for at most `timeout` (it may return early: callers
/// re-check their condition).
#[cfg(not(loom))]
pub(crate) fn park_timeout(timeout: std::time::Duration) {
    thread::park_timeout(timeout);
}

/// Loom has no timed park: a yield (loom-tests never reach a timed wait).
#[cfg(loom)]
pub(crate) fn park_timeout(_timeout: std::time::Duration) {
    thread::yield_now();
}

// --- stats (Journal::stats) ---

/// A statistics counter: std's atomic in every build, like [`next_uid`]. Counters feed
/// `Journal::stats()` only; no protocol decision reads them, so loom has nothing to
/// check in them (and modelling them would multiply its interleavings for nothing).
#[derive(Debug, Default)]
pub(crate) struct StatCell(std::sync::atomic::AtomicU64);

impl StatCell {
    /// Adds `n` from the counter's only writer: a load and a store, no read-modify-write
    /// instruction (the owning thread is the only one that ever stores).
    #[inline]
    pub(crate) fn bump_single_writer(&self, n: u64) {
        let now = self.0.load(std::sync::atomic::Ordering::Relaxed);
        self.0
            .store(now.wrapping_add(n), std::sync::atomic::Ordering::Relaxed);
    }

    /// Adds `n` from any thread.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the value (a gauge-like cell with one writer at a time).
    #[inline]
    pub(crate) fn set(&self, n: u64) {
        self.0.store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Raises the counter to `n` if it is lower, from any thread.
    #[inline]
    pub(crate) fn raise_to(&self, n: u64) {
        self.0.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// The current value (a moment's reading; counters only grow).
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}
