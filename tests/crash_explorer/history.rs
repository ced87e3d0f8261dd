//! The history of a workload: every append as it was made, its LSN once acknowledged,
//! and the durable frontier the journal has promised.
//!
//! An append enters `pending` before it is called and moves to `acked` (by LSN) after
//! it returns, so at any instant every frame a crash image can hold is in one of them.
//! A failed append stays pending: it may or may not have reached the mapping.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use checkpoint_journal::{CheckpointRecord, Entry, Lsn};

/// What one frame carries; `key` is unique within a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    Entries(Vec<Entry>),
    Checkpoint(CheckpointRecord),
}

impl Content {
    /// Entries carry unique sequences, checkpoints unique ids, from one counter.
    pub(crate) fn key(&self) -> u64 {
        match self {
            Content::Entries(entries) => entries.first().map_or(0, |e| e.sequence),
            Content::Checkpoint(record) => record.id,
        }
    }
}

/// The history at one instant.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    /// Acknowledged frames by LSN.
    pub(crate) acked: BTreeMap<u64, Arc<Content>>,
    /// Appends started and not acknowledged (in flight, or failed), by key.
    pub(crate) pending: HashMap<u64, Arc<Content>>,
    /// Every acknowledged frame below this LSN must survive a power loss.
    pub(crate) promised: u64,
}

#[derive(Debug, Default)]
pub(crate) struct History {
    inner: Mutex<Snapshot>,
}

impl History {
    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records an append about to be made.
    pub(crate) fn begin(&self, content: Content) -> Arc<Content> {
        let key = content.key();
        let content = Arc::new(content);
        let previous = self.lock().pending.insert(key, Arc::clone(&content));
        assert!(previous.is_none(), "key {key} appended twice");
        content
    }

    /// Records that the append with `key` returned `lsn`.
    pub(crate) fn ack(&self, key: u64, lsn: Lsn) {
        let mut inner = self.lock();
        let content = inner
            .pending
            .remove(&key)
            .expect("ack of an append never begun");
        let previous = inner.acked.insert(lsn.0, content);
        assert!(previous.is_none(), "two appends acknowledged at LSN {lsn}");
    }

    /// Records a durable frontier the journal claimed (`durable_lsn`, `flush`).
    pub(crate) fn promise(&self, durable: Lsn) {
        let mut inner = self.lock();
        inner.promised = inner.promised.max(durable.0);
    }

    /// Every acknowledged frame is durable (after a clean close).
    pub(crate) fn promise_all(&self) {
        let mut inner = self.lock();
        let end = inner.acked.keys().next_back().map_or(0, |lsn| lsn + 1);
        inner.promised = inner.promised.max(end);
    }

    pub(crate) fn promised(&self) -> u64 {
        self.lock().promised
    }

    /// Acknowledged frames and appends in flight now, with `promised` as read earlier.
    pub(crate) fn snapshot(&self, promised: u64) -> Snapshot {
        let inner = self.lock();
        Snapshot {
            acked: inner.acked.clone(),
            pending: inner.pending.clone(),
            promised,
        }
    }
}
