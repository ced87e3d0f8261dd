//! `Coordination`: what meta frames and checkpoint records add up to for checkpoint
//! coordination — the source and sink registries, the journal's source family, the
//! committed per-source progress, the retained checkpoints and the consumer cursors.
//!
//! Invariants: registry ids are unique per registry; `retained` is in LSN order and
//! holds at most `effective_max_retained()` checkpoints; `progress` changes only when
//! a checkpoint record commits the `pending` progress record written just before it.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointRecord;
use crate::lsn::Lsn;
use crate::meta::{MetaRecord, SourceProgress};

/// Checkpoints kept reachable while no retention record has been written.
pub const MAX_RETAINED_DEFAULT: u32 = 16;

/// A consumer's committed position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorPosition {
    /// The journal the record was written for (a record of another journal is refused
    /// when the cursor is opened).
    pub journal_id: u128,
    /// LSN of the last frame the consumer has processed.
    pub position: Lsn,
}

/// A checkpoint kept reachable by id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedCheckpoint {
    /// The checkpoint's id.
    pub id: u64,
    /// LSN of its frame.
    pub lsn: Lsn,
    /// LSN of the progress record it committed, if any.
    pub progress_lsn: Option<Lsn>,
}

/// Progress written by a meta record, waiting for the checkpoint that commits it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingProgress {
    /// LSN of the progress record.
    pub lsn: Lsn,
    /// The checkpoint id that commits it.
    pub checkpoint_id: u64,
    /// The sources' family.
    pub family: String,
    /// The progress.
    pub sources: Vec<SourceProgress>,
}

/// Checkpoint coordination state, folded from meta frames and checkpoint records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coordination {
    /// Source name → id.
    pub sources: BTreeMap<String, u16>,
    /// Sink name → id.
    pub sinks: BTreeMap<String, u16>,
    /// The family the journal's progress belongs to, once one was written.
    pub family: Option<String>,
    /// Consumer name → committed position.
    pub cursors: BTreeMap<String, CursorPosition>,
    /// The last retention record's bound (0: none written, [`MAX_RETAINED_DEFAULT`]).
    pub max_retained: u32,
    /// The newest checkpoints, oldest first.
    pub retained: VecDeque<RetainedCheckpoint>,
    /// Committed progress per source id.
    pub progress: BTreeMap<u16, SourceProgress>,
    /// The checkpoint that committed `progress`.
    pub progress_checkpoint: Option<u64>,
    /// A progress record not yet committed by its checkpoint.
    pub pending: Option<PendingProgress>,
}

impl Coordination {
    /// Folds in the meta record at `lsn`.
    pub fn apply_meta(&mut self, lsn: Lsn, record: MetaRecord) {
        match record {
            MetaRecord::SourceRegistered { name, source_id } => {
                self.sources.entry(name).or_insert(source_id);
            }
            MetaRecord::SinkRegistered { name, sink_id } => {
                self.sinks.entry(name).or_insert(sink_id);
            }
            MetaRecord::Family { name } => {
                self.family.get_or_insert(name);
            }
            MetaRecord::CursorCommitted {
                journal_id,
                name,
                position,
            } => {
                self.cursors.insert(
                    name,
                    CursorPosition {
                        journal_id,
                        position: Lsn(position),
                    },
                );
            }
            MetaRecord::Progress {
                checkpoint_id,
                family,
                sources,
            } => {
                self.pending = Some(PendingProgress {
                    lsn,
                    checkpoint_id,
                    family,
                    sources,
                });
            }
            MetaRecord::Retention { max_retained } => {
                self.max_retained = max_retained;
                self.trim_retained();
            }
        }
    }

    /// Folds in a checkpoint record: retains it, and commits the pending progress
    /// written for it.
    pub fn apply_checkpoint(&mut self, lsn: Lsn, record: &CheckpointRecord) {
        // A progress record written for a checkpoint that never followed (a crash
        // between the two frames) is dropped here, uncommitted.
        let pending = self.pending.take().filter(|p| p.checkpoint_id == record.id);
        self.retained.push_back(RetainedCheckpoint {
            id: record.id,
            lsn,
            progress_lsn: pending.as_ref().map(|p| p.lsn),
        });
        self.trim_retained();
        let Some(pending) = pending else {
            return;
        };
        self.family.get_or_insert(pending.family);
        for s in pending.sources {
            self.progress.insert(s.source_id, s);
        }
        self.progress_checkpoint = Some(record.id);
    }

    /// The bound on retained checkpoints in force.
    #[must_use]
    pub fn effective_max_retained(&self) -> u32 {
        if self.max_retained == 0 {
            MAX_RETAINED_DEFAULT
        } else {
            self.max_retained
        }
    }

    /// The retained checkpoint with `id`.
    #[must_use]
    pub fn retained_checkpoint(&self, id: u64) -> Option<RetainedCheckpoint> {
        self.retained.iter().rev().find(|c| c.id == id).copied()
    }

    /// The lowest LSN still needed: the oldest retained checkpoint (once a retention
    /// record was written, that is once a `CheckpointCoordinator` manages the journal)
    /// and every cursor's position. Compaction retires nothing at or above it; `None`
    /// pins nothing.
    #[must_use]
    pub fn retention_floor(&self) -> Option<Lsn> {
        let checkpoints = self
            .retained
            .front()
            .filter(|_| self.max_retained != 0)
            .map(|c| c.lsn);
        let cursors = self.cursors.values().map(|c| c.position).min();
        checkpoints.into_iter().chain(cursors).min()
    }

    fn trim_retained(&mut self) {
        let max = usize::try_from(self.effective_max_retained()).unwrap_or(usize::MAX);
        while self.retained.len() > max {
            self.retained.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(id: u64) -> CheckpointRecord {
        CheckpointRecord {
            id,
            ..CheckpointRecord::default()
        }
    }

    fn progress(checkpoint_id: u64, count: u64) -> MetaRecord {
        MetaRecord::Progress {
            checkpoint_id,
            family: "pg".into(),
            sources: vec![SourceProgress {
                source_id: 1,
                offset: vec![1, 2],
                committed_event_count: count,
            }],
        }
    }

    #[test]
    fn progress_commits_only_with_its_checkpoint() {
        let mut c = Coordination::default();
        c.apply_meta(Lsn(8), progress(1, 10));
        c.apply_checkpoint(Lsn(64), &checkpoint(1));
        assert_eq!(c.progress[&1].committed_event_count, 10);
        assert_eq!(c.progress_checkpoint, Some(1));
        assert_eq!(c.retained[0].progress_lsn, Some(Lsn(8)));
        assert_eq!(c.family.as_deref(), Some("pg"));
        // A progress record whose checkpoint never followed commits nothing.
        c.apply_meta(Lsn(72), progress(2, 20));
        c.apply_checkpoint(Lsn(128), &checkpoint(3));
        assert_eq!(c.progress[&1].committed_event_count, 10);
        assert_eq!(c.progress_checkpoint, Some(1));
    }

    #[test]
    fn retention_bounds_the_checkpoints_and_sets_the_floor() {
        let mut c = Coordination::default();
        c.apply_checkpoint(Lsn(8), &checkpoint(9));
        assert_eq!(
            c.retention_floor(),
            None,
            "no retention record: nothing pinned"
        );
        c.apply_meta(Lsn(0), MetaRecord::Retention { max_retained: 2 });
        for id in 1..=4 {
            c.apply_checkpoint(Lsn(id * 100), &checkpoint(id));
        }
        let ids: Vec<u64> = c.retained.iter().map(|r| r.id).collect();
        assert_eq!(ids, [3, 4]);
        assert_eq!(c.retention_floor(), Some(Lsn(300)));
        assert_eq!(c.retained_checkpoint(1), None);
        c.apply_meta(
            Lsn(0),
            MetaRecord::CursorCommitted {
                journal_id: 1,
                name: "a".into(),
                position: 40,
            },
        );
        assert_eq!(c.retention_floor(), Some(Lsn(40)));
    }

    #[test]
    fn a_registered_name_keeps_its_first_id() {
        let mut c = Coordination::default();
        for source_id in [4, 9] {
            c.apply_meta(
                Lsn(0),
                MetaRecord::SourceRegistered {
                    name: "s".into(),
                    source_id,
                },
            );
        }
        assert_eq!(c.sources["s"], 4);
    }
}
