#![doc = include_str!("../README.md")]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "tests fail loudly"
    )
)]
#![deny(clippy::indexing_slicing)]

pub mod checkpoint;
pub mod entry;
pub mod error;
pub mod format;
pub mod lsn;
pub mod options;
pub mod reader;
pub mod recovery;
pub mod state;
// --- stats (Journal::stats) ---
pub mod stats;
// --- stats (observability and async): the `tokio` feature ---
#[cfg(feature = "tokio")]
mod asynch;
#[cfg(feature = "tokio")]
pub use asynch::AsyncTail;
// Changelog ring: a bounded lock-free ring drained into the journal.
pub mod ring;
// Owner lease: who owns a journal directory, across hosts.
pub mod lease;
pub mod storage;

pub mod follower;

// Archiving to object storage (feature `object-store`).
#[cfg(feature = "object-store")]
pub mod archive;

// Checkpoint coordination.
pub mod coordinator;
pub mod cursor;
pub mod meta;

/// The lock-free protocol's building blocks, exported for `loom-tests/` and for users
/// who model their own use of the journal under `cfg(loom)`. Not a stable API.
#[doc(hidden)]
pub mod protocol {
    pub use crate::flush::{FlushTarget, Frontier, GroupCommit};
    pub use crate::region::*;
    pub use crate::storage::Words;
    // Checkpoint coordination: a source handle's cell (loom-tests/tests/source_cell.rs).
    pub use crate::coordinator::SourceCell;
}

mod append;
// Compaction.
mod compaction;
pub(crate) mod flush;
mod journal;
mod periodic;
mod region;
mod segment;
mod snapshot;
// Segment summaries (`.sum` files) of sealed segments.
mod summary;
mod sync;

pub use append::Appender;
pub use checkpoint::{CheckpointRecord, OperatorState};
pub use compaction::{Compaction, CompactionReport};
pub use entry::{Entry, Op};
pub use error::{Corruption, CorruptionKind, Error, Result};
pub use follower::JournalReader;
pub use journal::Journal;
pub use lsn::Lsn;
pub use options::{Durability, Options, RecoveryMode};
pub use reader::{Frame, FrameRef, Reader};
pub use recovery::{inspect, Inspection, RecoveryCase, RecoveryReport, SegmentInfo};
pub use recovery::{SkippedSnapshot, SnapshotInfo};
pub use state::{SourceState, State};
pub use summary::{SummaryFallback, SummaryFallbackReason};
// --- stats (Journal::stats) ---
pub use stats::{FileStats, Stats, StatsSource};
// Changelog ring.
pub use ring::{
    ChangelogRing, DrainerThread, OverflowPolicy, Pushed, RingDrainer, RingMonitor, RingProducer,
    RingStats,
};
// Checkpoint coordination.
pub use coordinator::{
    CheckpointCoordinator, CoordinatorConfig, Progress, Restored, SinkHandle, SourceHandle,
    SourceOffset, Triggered,
};
pub use cursor::Cursor;
pub use meta::{MetaRecord, SourceProgress};
// Owner lease.
pub use lease::{LeaseCase, LeaseTakeover};
