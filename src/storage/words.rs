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
