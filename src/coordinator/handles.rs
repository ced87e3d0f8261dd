//! Source and sink handles: the hot path of a stream engine bumps shared atomics here,
//! and a trigger reads them. No lock and no journal call on the hot path.
//!
//! Protocol of a source cell: the source's thread writes `sequence` (Relaxed) and then
//! `watermark` (Release); a trigger reads `watermark` (Acquire) and then `sequence`
//! (Relaxed). A trigger therefore never captures a watermark newer than the sequence it
//! captures with it: the watermark may lag the sequence, which is safe, since a
//! watermark only promises a lower bound on event time.

use crate::sync::{AtomicU64, CachePadded, Ordering};

/// The ordering of the watermark store in `advance`. A deliberately broken build
/// (`--cfg cpj_mutant_relaxed_advance`) weakens it, to show that loom-tests/ catch it.
#[cfg(not(cpj_mutant_relaxed_advance))]
const ADVANCE_ORDERING: Ordering = Ordering::Release;
#[cfg(cpj_mutant_relaxed_advance)]
const ADVANCE_ORDERING: Ordering = Ordering::Relaxed;

/// One source's shared position (the cell behind a [`SourceHandle`]; exported in
/// `protocol` for loom-tests/, not a stable API).
#[derive(Debug)]
pub struct SourceCell {
    /// Last sequence the source reported. Written by: the source's `advance` (Relaxed,
    /// before `watermark`). Read by: `capture` (Relaxed, after `watermark`).
    sequence: AtomicU64,
    /// Last watermark, as the bits of an `i64`. Written by: `advance` (Release, pairs
    /// with the Acquire in `capture`). Read by: `capture`.
    watermark: AtomicU64,
}

impl SourceCell {
    /// A cell at `(sequence, watermark)`.
    #[must_use]
    pub fn new(sequence: u64, watermark: i64) -> SourceCell {
        SourceCell {
            sequence: AtomicU64::new(sequence),
            watermark: AtomicU64::new(watermark.cast_unsigned()),
        }
    }

    /// Records a position: the sequence, then the watermark (Release).
    #[inline]
    pub fn advance(&self, sequence: u64, watermark: i64) {
        self.sequence.store(sequence, Ordering::Relaxed);
        // Release: pairs with the Acquire in `SourceCell::capture`.
        self.watermark
            .store(watermark.cast_unsigned(), ADVANCE_ORDERING);
    }

    /// `(sequence, watermark)` as a trigger captures them.
    #[must_use]
    pub fn capture(&self) -> (u64, i64) {
        // Acquire: pairs with the Release store in `advance`.
        let watermark = self.watermark.load(Ordering::Acquire).cast_signed();
        (self.sequence.load(Ordering::Relaxed), watermark)
    }
}

/// A registered source: report progress with [`SourceHandle::advance`]. Cloning is
/// cheap; clones share the position.
#[derive(Clone, Debug)]
pub struct SourceHandle {
    pub(crate) id: u16,
    pub(crate) cell: crate::sync::Arc<CachePadded<SourceCell>>,
}

impl SourceHandle {
    /// The source's stable id (the same across restarts; use it in entries).
    #[must_use]
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Records the source's sequence and watermark: two stores, no lock, no journal
    /// call. The next trigger captures them.
    #[inline]
    pub fn advance(&self, sequence: u64, watermark: i64) {
        self.cell.advance(sequence, watermark);
    }

    /// The position the next trigger would capture.
    #[must_use]
    pub fn position(&self) -> (u64, i64) {
        self.cell.capture()
    }
}

/// A registered sink: report what it has committed with [`SinkHandle::set_position`].
#[derive(Clone, Debug)]
pub struct SinkHandle {
    pub(crate) id: u16,
    /// Written by: `set_position` (Release). Read by: a trigger (Acquire).
    pub(crate) position: crate::sync::Arc<CachePadded<AtomicU64>>,
}

impl SinkHandle {
    /// The sink's stable id.
    #[must_use]
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Records the sink's committed position; the next trigger captures it.
    #[inline]
    pub fn set_position(&self, position: u64) {
        // Release: pairs with the Acquire in the trigger's capture.
        self.position.store(position, Ordering::Release);
    }

    /// The position the next trigger would capture.
    #[must_use]
    pub fn position(&self) -> u64 {
        // Acquire: pairs with the Release in `set_position`.
        self.position.load(Ordering::Acquire)
    }
}
