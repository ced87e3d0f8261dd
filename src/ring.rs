//! `ChangelogRing`: a bounded, lock-free ring of [`Entry`] with one producer (the hot
//! path, [`RingProducer::push`]) and one drainer ([`RingDrainer`], which moves entries into
//! the journal in batches). When the ring is full, the [`OverflowPolicy`] decides whether
//! the new entry or the oldest one is lost, and [`RingStats`] counts every loss.
//!
//! Protocol. Positions are `u64` counters that never wrap in practice; position `p` lives
//! in slot `p % capacity` as three 64-bit atomic words (the entry's on-disk words).
//! - `tail` is the next position to write; only the producer stores it (Release, after
//!   the slot's words).
//! - `head` is the oldest position still in the ring. It only moves forward, and only by
//!   compare-and-swap: the drainer moves it past the entries it takes, and under
//!   `OverwriteOldest` the producer moves it past the entry it evicts to make room.
//! - Invariant: `head <= tail <= head + capacity`; the producer writes the slot of
//!   position `t` only once it has observed `head > t - capacity`.
//!
//! The drainer reads optimistically: it copies positions `[h, h + k)` (all below a
//! `tail` it loaded), then claims them with one `compare_exchange(h, h + k)`. A failed
//! claim that returns `c` means the producer evicted `[h, c)`: those copies may be torn
//! and are discarded, and the claim is retried from `c`. A claim that succeeds from `c`
//! delivers `[c, h + k)` intact: to overwrite the slot of a position `p >= c`, the
//! producer must first observe `head > p`, a value that only the claim itself or a later
//! compare-and-swap wrote, so the drainer's copies happen before the overwrite (the
//! claim releases, the producer's load of `head` acquires, and every write of `head` is a
//! read-modify-write that continues the release sequence). No entry is delivered torn
//! or twice; `loom-tests/tests/ring.rs` checks this under both policies. The design is
//! the bounded-buffer "claim by CAS on the consumer index" of Vyukov's queues, reduced to
//! one producer and one consumer, with eviction as a second claimant.

mod drain;

use std::fmt;

use serde::Serialize;

use crate::entry::{Entry, ENTRY_WORDS};
use crate::error::{Error, Result};
use crate::sync::{Arc, AtomicU64, CachePadded, Ordering};

pub use drain::{DrainerThread, RingDrainer};

/// Largest ring capacity in entries (24 bytes each: 384 MiB).
pub const RING_CAPACITY_MAX: usize = 1 << 24;

/// What happens to a push into a full ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// The new entry is not stored; [`RingStats::dropped`] counts it. The ring keeps the
    /// oldest entries, so what reaches the journal is a gap-free prefix of the pushes.
    DropNew,
    /// The oldest entry not yet taken by the drainer is evicted to make room;
    /// [`RingStats::overwritten`] counts it. The ring keeps the newest entries.
    OverwriteOldest,
}

/// What one [`RingProducer::push`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The entry is in the ring; nothing was lost.
    Stored,
    /// The entry is in the ring; the oldest entry was evicted for it (`OverwriteOldest`).
    Overwrote,
    /// The ring was full and the entry was not stored (`DropNew`).
    Dropped,
}

/// Exact counts of what a ring did. Each counter is exact; a snapshot taken while the
/// producer or the drainer runs may read the counters at slightly different instants.
///
/// Once both sides are idle: `pushed == drained + overwritten + len`, where `len` is what
/// is still in the ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RingStats {
    /// Entries stored by the producer (dropped ones are not counted here).
    pub pushed: u64,
    /// Entries taken out of the ring by the drainer.
    pub drained: u64,
    /// Pushes refused because the ring was full (`DropNew`).
    pub dropped: u64,
    /// Stored entries evicted before the drainer took them (`OverwriteOldest`).
    pub overwritten: u64,
}

/// State shared by the producer, the drainer and monitors.
pub(crate) struct Shared {
    /// Next position to write. Written only by the producer, with Release after the
    /// slot's words (pairs with the drainer's Acquire load in `drain::copy_batch`).
    tail: CachePadded<AtomicU64>,
    /// Oldest position in the ring; moved forward only by compare-and-swap (`AcqRel`),
    /// by the drainer's claim and by the producer's eviction (see the module docs).
    head: CachePadded<AtomicU64>,
    /// Pushes refused; written only by the producer (Relaxed: a counter).
    dropped: AtomicU64,
    /// Entries evicted; written only by the producer (Relaxed: a counter).
    overwritten: AtomicU64,
    /// Entries claimed; written only by the drainer (Relaxed: a counter).
    drained: AtomicU64,
    /// `capacity * ENTRY_WORDS` words; position `p` at `(p & mask) * ENTRY_WORDS`.
    slots: Box<[AtomicU64]>,
    /// `capacity - 1` (capacity is a power of two).
    mask: u64,
    policy: OverflowPolicy,
}

impl Shared {
    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// The word index of position `p`'s slot.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "masked to below the capacity, which fits in usize"
    )]
    fn slot_index(&self, position: u64) -> usize {
        (position & self.mask) as usize * ENTRY_WORDS
    }

    pub(crate) fn stats(&self) -> RingStats {
        RingStats {
            pushed: self.tail.load(Ordering::Relaxed),
            drained: self.drained.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            overwritten: self.overwritten.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangelogRing")
            .field("capacity", &self.capacity())
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Constructor of a ring's two ends.
#[derive(Debug)]
pub struct ChangelogRing;

impl ChangelogRing {
    /// A ring of `capacity` entries (a power of two from 2 to [`RING_CAPACITY_MAX`]):
    /// its producer and its drainer.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] naming `capacity`.
    #[expect(
        clippy::new_ret_no_self,
        reason = "a ring is used only through its two ends"
    )]
    pub fn new(capacity: usize, policy: OverflowPolicy) -> Result<(RingProducer, RingDrainer)> {
        if !(2..=RING_CAPACITY_MAX).contains(&capacity) || !capacity.is_power_of_two() {
            return Err(Error::InvalidOptions {
                field: "capacity",
                reason: format!(
                    "{capacity} is not a power of two between 2 and {RING_CAPACITY_MAX}"
                ),
            });
        }
        let shared = Arc::new(Shared {
            tail: CachePadded::new(AtomicU64::new(0)),
            head: CachePadded::new(AtomicU64::new(0)),
            dropped: AtomicU64::new(0),
            overwritten: AtomicU64::new(0),
            drained: AtomicU64::new(0),
            slots: (0..capacity * ENTRY_WORDS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            mask: capacity as u64 - 1,
            policy,
        });
        let producer = RingProducer {
            shared: Arc::clone(&shared),
            tail: 0,
            head_seen: 0,
        };
        Ok((producer, RingDrainer::new(shared)))
    }
}

/// A cloneable, read-only view of a ring's counters (for a stats endpoint).
#[derive(Clone, Debug)]
pub struct RingMonitor {
    shared: Arc<Shared>,
}

impl RingMonitor {
    /// The ring's counters now.
    #[must_use]
    pub fn stats(&self) -> RingStats {
        self.shared.stats()
    }

    /// Entries in the ring now (racy while the ring is in use; exact when idle).
    #[must_use]
    pub fn len(&self) -> u64 {
        let head = self.shared.head.load(Ordering::Acquire);
        self.shared
            .tail
            .load(Ordering::Acquire)
            .saturating_sub(head)
    }

    /// Whether the ring is empty now (see [`RingMonitor::len`]).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The producing end: one per ring, `Send` but not `Clone` (single producer).
#[derive(Debug)]
pub struct RingProducer {
    shared: Arc<Shared>,
    /// Next position to write; the producer's own copy of `shared.tail`.
    tail: u64,
    /// A value of `shared.head` this producer observed (a lower bound of the current one).
    head_seen: u64,
}

impl RingProducer {
    /// Stores `entry`, or applies the overflow policy if the ring is full. No lock, no
    /// allocation, no system call: three relaxed stores and one release store, plus one
    /// compare-and-swap when `OverwriteOldest` evicts.
    #[inline]
    pub fn push(&mut self, entry: Entry) -> Pushed {
        let tail = self.tail;
        let capacity = self.shared.capacity();
        let mut outcome = Pushed::Stored;
        if tail - self.head_seen >= capacity {
            outcome = self.make_room(tail);
            if outcome == Pushed::Dropped {
                return outcome;
            }
        }
        debug_assert!(
            tail - self.head_seen < capacity,
            "writing a slot still in use"
        );
        let at = self.shared.slot_index(tail);
        if let Some(slot) = self.shared.slots.get(at..at + ENTRY_WORDS) {
            for (word, value) in slot.iter().zip(entry.to_words()) {
                word.store(value, Ordering::Relaxed);
            }
        }
        // Release: the slot's words before the position (pairs with the drainer's
        // Acquire load of `tail`).
        self.shared.tail.store(tail + 1, Ordering::Release);
        self.tail = tail + 1;
        outcome
    }

    /// The ring looked full: reload `head`, then drop or evict per the policy.
    #[cold]
    fn make_room(&mut self, tail: u64) -> Pushed {
        let capacity = self.shared.capacity();
        loop {
            // Acquire: the drainer's copies of the positions it claimed happen before we
            // overwrite their slots (pairs with the claim's AcqRel compare-and-swap).
            self.head_seen = self.shared.head.load(Ordering::Acquire);
            if tail - self.head_seen < capacity {
                return Pushed::Stored;
            }
            debug_assert_eq!(tail - self.head_seen, capacity, "head + capacity < tail");
            if self.shared.policy == OverflowPolicy::DropNew {
                let dropped = self.shared.dropped.load(Ordering::Relaxed);
                self.shared.dropped.store(dropped + 1, Ordering::Relaxed);
                return Pushed::Dropped;
            }
            let oldest = self.head_seen;
            // AcqRel: acquires the drainer's claims as above, and releases nothing the
            // drainer needs (it discards what it read of an evicted position).
            if self
                .shared
                .head
                .compare_exchange(oldest, oldest + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.head_seen = oldest + 1;
                let overwritten = self.shared.overwritten.load(Ordering::Relaxed);
                self.shared
                    .overwritten
                    .store(overwritten + 1, Ordering::Relaxed);
                return Pushed::Overwrote;
            }
        }
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

    /// Capacity in entries.
    #[must_use]
    pub fn capacity(&self) -> u64 {
        self.shared.capacity()
    }

    /// The overflow policy.
    #[must_use]
    pub fn policy(&self) -> OverflowPolicy {
        self.shared.policy
    }
}
