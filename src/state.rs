//! `State`: what the journal's frames add up to — per-source last sequence and
//! watermark, and the last checkpoint — folded frame by frame in LSN order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointRecord;
use crate::entry::{Entry, Op};
use crate::lsn::Lsn;
// Checkpoint coordination (src/coordinator.rs, src/cursor.rs).
use crate::meta::MetaRecord;

mod coordination;
pub use coordination::{
    Coordination, CursorPosition, PendingProgress, RetainedCheckpoint, MAX_RETAINED_DEFAULT,
};

/// Batches of at least this many entries fold through a per-call source cache.
const CACHE_BATCH_MIN: usize = 32;
/// Sources in that cache (direct-mapped by `source_id`): enough that batches
/// interleaving up to this many sources never evict (compaction and replay of journals
/// with 64 round-robin sources missed on every entry with 32 slots).
const CACHE_SLOTS: usize = 256;

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
        if entries.len() < CACHE_BATCH_MIN {
            for e in entries {
                apply_one(self.source_mut(e.source_id), e);
            }
        } else {
            // Sources are folded in a small direct-mapped cache and written back once per
            // batch, not looked up in the map per entry.
            let mut cache = [None::<(u16, SourceState)>; CACHE_SLOTS];
            for e in entries {
                let Some(slot) = cache.get_mut(usize::from(e.source_id) % CACHE_SLOTS) else {
                    continue;
                };
                match slot {
                    Some((id, s)) if *id == e.source_id => apply_one(s, e),
                    _ => {
                        if let Some((id, s)) = slot.take() {
                            self.sources.insert(id, s);
                        }
                        let mut s = *self.source_mut(e.source_id);
                        apply_one(&mut s, e);
                        *slot = Some((e.source_id, s));
                    }
                }
            }
            for (id, s) in cache.into_iter().flatten() {
                self.sources.insert(id, s);
            }
        }
        self.entries += entries.len() as u64;
    }

    fn source_mut(&mut self, source_id: u16) -> &mut SourceState {
        self.sources.entry(source_id).or_insert(SourceState {
            watermark: i64::MIN,
            ..SourceState::default()
        })
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

/// Folds one entry into its source's state.
#[inline]
fn apply_one(s: &mut SourceState, e: &Entry) {
    match e.op() {
        Ok(Op::Push) => s.sequence = e.sequence,
        Ok(Op::Barrier) => {
            s.sequence = e.sequence;
            s.last_barrier = Some(e.sequence);
        }
        Ok(Op::Watermark) | Err(_) => {}
    }
    s.watermark = s.watermark.max(e.watermark);
    s.entries += 1;
}
