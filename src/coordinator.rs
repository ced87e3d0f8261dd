//! `CheckpointCoordinator`: registered sources and sinks whose positions are shared
//! atomics bumped on the hot path, and `trigger()`, which captures them into a
//! `CheckpointRecord` in the journal. Everything the coordinator knows is in the journal
//! (meta frames: the source and sink registries, the family, retention, progress), so a
//! reopened journal restores it: `restore()` returns the latest durable checkpoint and
//! where each source rewinds to.
//!
//! Invariants: checkpoint ids grow strictly (an id is consumed even when its append
//! fails, so a progress record never meets a checkpoint it was not written for); the
//! registry assigns each name one `u16` id, forever; a progress record is appended
//! immediately before the checkpoint that commits it. One coordinator per journal.
//!
//! The guide below is docs/CHECKPOINTING.md (its first example runs as a doctest).
#![doc = include_str!("../docs/CHECKPOINTING.md")]

use std::collections::BTreeMap;
use std::time::Instant;

use crate::checkpoint::{CheckpointRecord, OperatorState};
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::lsn::Lsn;
use crate::meta::{MetaRecord, SourceProgress};
use crate::reader::Frame;
use crate::segment::now_ms;
use crate::sync::{lock, Arc, AtomicU64, CachePadded, Mutex};

mod background;
mod config;
mod error_text;
mod handles;
mod progress;
mod registry;

pub use config::{CoordinatorConfig, MAX_RETAINED_LIMIT};
pub(crate) use error_text::error_text;
#[doc(hidden)]
pub use handles::SourceCell;
pub use handles::{SinkHandle, SourceHandle};
pub use progress::{Progress, SourceOffset};

use background::Background;
use registry::Registry;

/// The outcome of a trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Triggered {
    /// The checkpoint's id (for an identical resubmission: the id that committed it).
    pub id: u64,
    /// Whether a checkpoint was appended (false: identical progress, nothing written).
    pub appended: bool,
}

/// What [`CheckpointCoordinator::restore`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// LSN of the checkpoint's frame.
    pub lsn: Lsn,
    /// The checkpoint.
    pub record: CheckpointRecord,
    /// Per registered source name: the sequence to rewind to.
    pub rewind: BTreeMap<String, u64>,
    /// Per source name: the progress this checkpoint committed.
    pub progress: BTreeMap<String, SourceProgress>,
}

/// Checkpoints a stream job over a journal (see the module docs).
#[derive(Debug)]
pub struct CheckpointCoordinator {
    shared: Arc<Shared>,
    background: Option<Background>,
}

#[derive(Debug)]
struct Shared {
    journal: Arc<Journal>,
    config: CoordinatorConfig,
    registry: Mutex<Registry>,
    /// Serialises triggers. Lock order: `inner`, then `registry`.
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    next_id: u64,
    epoch: u64,
    last_trigger: Option<Instant>,
    operator_states: Vec<OperatorState>,
    family: Option<String>,
    progress: BTreeMap<u16, SourceProgress>,
    progress_checkpoint: Option<u64>,
}

impl CheckpointCoordinator {
    /// A coordinator over `journal`, restored from what the journal holds. Writes the
    /// family and retention records if the journal does not hold them yet.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] for an invalid `config`, [`Error::MixedFamily`] if the
    /// journal holds another family, and append errors.
    pub fn open(journal: Arc<Journal>, config: CoordinatorConfig) -> Result<CheckpointCoordinator> {
        config.validate()?;
        let state = journal.state()?;
        let c = &state.coordination;
        if let (Some(have), Some(want)) = (&c.family, &config.family) {
            if have != want {
                return Err(Error::MixedFamily {
                    path: journal.dir().to_owned(),
                    journal: have.clone(),
                    offered: want.clone(),
                });
            }
        }
        let mut family = c.family.clone();
        if family.is_none() {
            if let Some(want) = &config.family {
                journal.append_meta(&MetaRecord::Family { name: want.clone() })?;
                family = Some(want.clone());
            }
        }
        if c.max_retained != config.max_retained {
            journal.append_meta(&MetaRecord::Retention {
                max_retained: config.max_retained,
            })?;
        }
        let last = state.last_checkpoint.as_ref().map(|(_, r)| r);
        let inner = Inner {
            next_id: last
                .map_or(0, |r| r.id)
                .max(c.progress_checkpoint.unwrap_or(0))
                + 1,
            epoch: last.map_or(0, |r| r.epoch + 1),
            last_trigger: None,
            operator_states: Vec::new(),
            family,
            progress: c.progress.clone(),
            progress_checkpoint: c.progress_checkpoint,
        };
        let shared = Arc::new(Shared {
            registry: Mutex::new(Registry::restore(c, last)),
            journal,
            config,
            inner: Mutex::new(inner),
        });
        let background = shared
            .config
            .background
            .then(|| Background::start(&shared))
            .flatten();
        Ok(CheckpointCoordinator { shared, background })
    }

    /// Registers `name` (or finds it registered, in this process or a previous one) and
    /// returns its handle. A new name is written to the journal's registry.
    ///
    /// # Errors
    /// [`Error::RegistryFull`] past 65 536 sources, [`Error::InvalidOptions`] for an
    /// empty or over-long name, and append errors.
    pub fn register_source(&self, name: &str) -> Result<SourceHandle> {
        lock(&self.shared.registry).source(&self.shared.journal, name)
    }

    /// Registers a sink (as [`CheckpointCoordinator::register_source`]).
    ///
    /// # Errors
    /// As [`CheckpointCoordinator::register_source`].
    pub fn register_sink(&self, name: &str) -> Result<SinkHandle> {
        lock(&self.shared.registry).sink(&self.shared.journal, name)
    }

    /// Attaches an operator's state to the next checkpoint (replacing what the same
    /// operator attached before it).
    pub fn attach_operator_state(&self, operator_id: u32, state: Vec<u8>) {
        let mut inner = lock(&self.shared.inner);
        inner
            .operator_states
            .retain(|o| o.operator_id != operator_id);
        inner
            .operator_states
            .push(OperatorState { operator_id, state });
    }

    /// Captures every source and sink and appends a checkpoint; returns its id. In
    /// `Sync` mode, returns once it is durable.
    ///
    /// # Errors
    /// Append errors; [`Error::TooLarge`] for a record over the limits.
    pub fn trigger(&self) -> Result<u64> {
        self.shared.trigger(None, false).map(|t| t.id)
    }

    /// As [`CheckpointCoordinator::trigger`], returning only once the checkpoint is
    /// durable, in every durability mode.
    ///
    /// # Errors
    /// As [`CheckpointCoordinator::trigger`].
    pub fn trigger_durable(&self) -> Result<u64> {
        self.shared.trigger(None, true).map(|t| t.id)
    }

    /// Checkpoints with `progress` for some sources, after validating it (see
    /// [`Progress`]): an identical resubmission returns the id that committed it and
    /// writes nothing. A refused checkpoint writes nothing.
    ///
    /// # Errors
    /// [`Error::NonMonotonic`], [`Error::ProgressConflict`], [`Error::MixedFamily`],
    /// [`Error::InvalidOptions`] for an unknown or repeated source, and append errors.
    pub fn trigger_with_progress(&self, progress: &Progress, durable: bool) -> Result<Triggered> {
        self.shared.trigger(Some(progress), durable)
    }

    /// Triggers if `checkpoint_interval` has passed since the last trigger (or none was
    /// made yet) at `now`; for callers that drive their own loop.
    ///
    /// # Errors
    /// As [`CheckpointCoordinator::trigger`].
    pub fn maybe_trigger(&self, now: Instant) -> Result<Option<u64>> {
        self.shared.maybe_trigger(now)
    }

    /// The last error of the background thread, if it failed (it stops on an error).
    #[must_use]
    pub fn background_error(&self) -> Option<String> {
        self.background.as_ref().and_then(Background::error)
    }

    /// The latest durable checkpoint and, per source, the sequence to rewind to.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if the checkpoint's frame fails validation.
    pub fn restore(&self) -> Result<Option<Restored>> {
        let journal = &self.shared.journal;
        let state = journal.state()?;
        let durable = journal.durable_lsn();
        let c = &state.coordination;
        let Some(found) = c.retained.iter().rev().find(|r| r.lsn < durable) else {
            return Ok(None);
        };
        let record = read_checkpoint(journal, found.lsn)?;
        let names: BTreeMap<u16, &String> = c.sources.iter().map(|(n, id)| (*id, n)).collect();
        let name_of = |id: u16| names.get(&id).map(|n| (*n).clone());
        let rewind = record
            .source_sequences
            .iter()
            .filter_map(|(id, seq)| Some((name_of(*id)?, *seq)))
            .collect();
        let mut progress = BTreeMap::new();
        if let Some(at) = found.progress_lsn {
            if let Some(Frame::Meta {
                record: MetaRecord::Progress { sources, .. },
                ..
            }) = journal.read_from(at)?.next().transpose()?
            {
                progress = sources
                    .into_iter()
                    .filter_map(|s| Some((name_of(s.source_id)?, s)))
                    .collect();
            }
        }
        Ok(Some(Restored {
            lsn: found.lsn,
            record,
            rewind,
            progress,
        }))
    }

    /// The retained checkpoint with `id`, if it is still reachable.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if its frame fails validation.
    pub fn checkpoint(&self, id: u64) -> Result<Option<CheckpointRecord>> {
        let journal = &self.shared.journal;
        match journal.state()?.coordination.retained_checkpoint(id) {
            Some(r) => read_checkpoint(journal, r.lsn).map(Some),
            None => Ok(None),
        }
    }

    /// How many checkpoints stay reachable.
    #[must_use]
    pub fn max_retained(&self) -> u32 {
        self.shared.config.max_retained
    }

    /// The journal.
    #[must_use]
    pub fn journal(&self) -> &Arc<Journal> {
        &self.shared.journal
    }
}

impl Drop for CheckpointCoordinator {
    fn drop(&mut self) {
        if let Some(mut b) = self.background.take() {
            b.stop();
        }
    }
}

impl Shared {
    fn maybe_trigger(&self, now: Instant) -> Result<Option<u64>> {
        let Some(every) = self.config.checkpoint_interval else {
            return Ok(None);
        };
        let due = lock(&self.inner)
            .last_trigger
            .is_none_or(|t| now.saturating_duration_since(t) >= every);
        if !due {
            return Ok(None);
        }
        self.trigger(None, false).map(|t| Some(t.id))
    }

    fn trigger(
        &self,
        progress: Option<&crate::coordinator::Progress>,
        durable: bool,
    ) -> Result<Triggered> {
        let mut inner = lock(&self.inner);
        let records = match progress {
            Some(p) => {
                let registry = lock(&self.registry);
                let committed = progress::Committed {
                    dir: self.journal.dir(),
                    family: inner.family.as_deref(),
                    ids: registry.source_ids(),
                    progress: &inner.progress,
                };
                match progress::validate(p, &committed)? {
                    Some(records) => Some((p.family.clone(), records)),
                    None => {
                        return Ok(Triggered {
                            id: inner.progress_checkpoint.unwrap_or(0),
                            appended: false,
                        })
                    }
                }
            }
            None => None,
        };
        let record = self.capture(&mut inner);
        let bytes = record.encode().map_err(|e| Error::TooLarge {
            what: "checkpoint record",
            bytes: match e {
                crate::checkpoint::CheckpointError::TooLarge { bytes } => bytes as u64,
                _ => 0,
            },
            max: crate::format::limits::CHECKPOINT_BYTES_MAX as u64,
        })?;
        // The id is consumed from here on, appended or not (see the module docs).
        inner.next_id = record.id + 1;
        inner.last_trigger = Some(Instant::now());
        if let Some((family, sources)) = &records {
            self.journal.append_meta_unsynced(&MetaRecord::Progress {
                checkpoint_id: record.id,
                family: family.clone(),
                sources: sources.clone(),
            })?;
        }
        let (_, end) = self.journal.checkpoint_bytes_unsynced(&bytes)?;
        inner.operator_states.clear();
        if let Some((family, sources)) = records {
            inner.family.get_or_insert(family);
            for s in sources {
                inner.progress.insert(s.source_id, s);
            }
            inner.progress_checkpoint = Some(record.id);
        }
        drop(inner);
        self.journal.settle(end, durable)?;
        Ok(Triggered {
            id: record.id,
            appended: true,
        })
    }

    /// The record a trigger appends: every source and sink as they are now.
    fn capture(&self, inner: &mut Inner) -> CheckpointRecord {
        let registry = lock(&self.registry);
        let (source_sequences, watermarks) = registry.capture_sources();
        CheckpointRecord {
            id: inner.next_id,
            epoch: inner.epoch,
            created_at_ms: now_ms(),
            source_sequences,
            sink_positions: registry.capture_sinks(),
            watermarks,
            operator_states: inner.operator_states.clone(),
        }
    }
}

/// The checkpoint record whose frame is at `lsn`.
fn read_checkpoint(journal: &Journal, lsn: Lsn) -> Result<CheckpointRecord> {
    match journal.read_from(lsn)?.next().transpose()? {
        Some(Frame::Checkpoint { record, .. }) => Ok(record),
        _ => Err(Error::InvalidLsn {
            lsn,
            first: journal.first_lsn(),
            end: journal.end_lsn(),
        }),
    }
}

/// A source or sink cell, as registries keep them.
type SinkCell = Arc<CachePadded<AtomicU64>>;
