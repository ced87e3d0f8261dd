//! `State`: what the journal's frames add up to — per-source last sequence and
//! watermark, and the last checkpoint — folded frame by frame in LSN order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointRecord;
use crate::entry::Entry;
use crate::lsn::Lsn;
// Checkpoint coordination (src/coordinator.rs, src/cursor.rs).
use crate::meta::MetaRecord;

mod coordination;
mod fold;
pub use coordination::{
    Coordination, CursorPosition, PendingProgress, RetainedCheckpoint, MAX_RETAINED_DEFAULT,
};
pub(crate) use fold::Fold;

/// Per-source progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// Sequence of the source's last push or barrier entry (watermark entries carry no
    /// position).
    pub sequence: u64,
    /// Highest watermark seen for the source.
    pub watermark: i64,
    /// Sequence of the last barrier entry, if any.
    pub last_barrier: Option<u64>,
    /// Entries seen for the source.
    pub entries: u64,
}

/// The materialized state of a journal as of `end`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Progress per `source_id`.
    pub sources: BTreeMap<u16, SourceState>,
    /// The last checkpoint record and its LSN.
    pub last_checkpoint: Option<(Lsn, CheckpointRecord)>,
    /// Entries folded in.
    pub entries: u64,
    /// Checkpoints folded in.
    pub checkpoints: u64,
    /// LSN just past the last frame folded in.
    pub end: Lsn,
    /// Checkpoint coordination: registries, progress, retained checkpoints, cursors.
    pub coordination: Coordination,
}

impl State {
    /// Folds in a batch of entries.
    pub fn apply_entries(&mut self, entries: &[Entry]) {
        let mut fold = Fold::default();
        fold.add(entries);
        fold.commit(self);
    }

    /// Folds in a checkpoint.
    pub fn apply_checkpoint(&mut self, lsn: Lsn, record: CheckpointRecord) {
        self.checkpoints += 1;
        self.coordination.apply_checkpoint(lsn, &record);
        self.last_checkpoint = Some((lsn, record));
    }

    // Checkpoint coordination.
    /// Folds in the meta record at `lsn`.
    pub fn apply_meta(&mut self, lsn: Lsn, record: MetaRecord) {
        self.coordination.apply_meta(lsn, record);
    }

    /// The lowest LSN still needed by retained checkpoints and consumer cursors
    /// (compaction retires nothing at or above it); `None` pins nothing.
    #[must_use]
    pub fn retention_floor(&self) -> Option<Lsn> {
        self.coordination.retention_floor()
    }
}
