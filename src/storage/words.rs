//! `Words`: the memory the frame protocol writes, as 64-bit atomic words.
//!
//! Writers store into space they reserved (relaxed) and publish with one release store;
//! readers load the publication word with acquire. Going through atomics keeps every
//! access race-free in Rust's model without `unsafe` outside the mapping itself, and
//! compiles to plain moves on x86-64 and aarch64. The protocol is generic over this
//! trait so that loom checks it on its own atomics.

use crate::sync::Ordering;

/// The word type of real mappings (std's, whatever `cfg(loom)` says: a file mapping is
/// never a loom model).
pub type SharedWord = core::sync::atomic::AtomicU64;

/// A slice of 64-bit words shared between threads.
pub trait Words: Sync {
    /// Number of words.
    fn len_words(&self) -> usize;
    /// Loads word `index` (`None` past the end).
    fn load(&self, index: usize, order: Ordering) -> Option<u64>;
    /// Stores word `index`; a store past the end is a bug in the caller and is ignored
    /// (debug builds assert).
    fn store(&self, index: usize, value: u64, order: Ordering);
    /// Stores `values` at `index..index + values.len()`, each with `order`, lowest index
    /// first: the same stores as [`Words::store`] in a loop, which is the default. A run
    /// past the end is a bug in the caller and is ignored (debug builds assert).
    #[inline]
    fn store_run(&self, index: usize, values: &[u64], order: Ordering) {
        for (at, value) in (index..).zip(values) {
            self.store(at, *value, order);
        }
    }
    /// Loads `index..index + out.len()` into `out`, each with `order`, lowest index first
    /// (the default: [`Words::load`] in a loop). Returns `false`, leaving `out`
    /// unspecified, if the run reaches past the end.
    #[inline]
    fn load_run(&self, index: usize, out: &mut [u64], order: Ordering) -> bool {
        for (at, slot) in (index..).zip(out.iter_mut()) {
            match self.load(at, order) {
                Some(v) => *slot = v,
                None => return false,
            }
        }
        true
    }
}

impl Words for [SharedWord] {
    #[inline]
    fn len_words(&self) -> usize {
        self.len()
    }
    #[inline]
    fn load(&self, index: usize, order: Ordering) -> Option<u64> {
        self.get(index).map(|w| w.load(order))
    }
    #[inline]
    fn store(&self, index: usize, value: u64, order: Ordering) {
        debug_assert!(index < self.len(), "store past the end of a region");
        if let Some(w) = self.get(index) {
            w.store(value, order);
        }
    }
    /// One bounds check for the run, then the same relaxed/ordered stores word by word.
    #[inline]
    fn store_run(&self, index: usize, values: &[u64], order: Ordering) {
        let run = index
            .checked_add(values.len())
            .and_then(|end| self.get(index..end));
        debug_assert!(run.is_some(), "store past the end of a region");
        if let Some(run) = run {
            for (w, value) in run.iter().zip(values) {
                w.store(*value, order);
            }
        }
    }
    /// One bounds check for the run, then the same loads word by word.
    #[inline]
    fn load_run(&self, index: usize, out: &mut [u64], order: Ordering) -> bool {
        let run = index
            .checked_add(out.len())
            .and_then(|end| self.get(index..end));
        match run {
            Some(run) => {
                for (slot, w) in out.iter_mut().zip(run) {
                    *slot = w.load(order);
                }
                true
            }
            None => false,
        }
    }
}

#[cfg(loom)]
impl Words for [crate::sync::AtomicU64] {
    fn len_words(&self) -> usize {
        self.len()
    }
    fn load(&self, index: usize, order: Ordering) -> Option<u64> {
        self.get(index).map(|w| w.load(order))
    }
    fn store(&self, index: usize, value: u64, order: Ordering) {
        debug_assert!(index < self.len(), "store past the end of a region");
        if let Some(w) = self.get(index) {
            w.store(value, order);
        }
    }
}
