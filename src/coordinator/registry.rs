//! The coordinator's source and sink registries: name ↔ stable `u16` id, each new name
//! written to the journal (a `SourceRegistered` / `SinkRegistered` meta record) before
//! its handle is returned, and each id's shared cell.

use std::collections::BTreeMap;

use crate::checkpoint::CheckpointRecord;
use crate::error::{Error, Result};
use crate::format::limits::{META_NAME_BYTES_MAX, REGISTRY_IDS_MAX};
use crate::journal::Journal;
use crate::meta::MetaRecord;
use crate::state::Coordination;
use crate::sync::{Arc, AtomicU64, CachePadded, Ordering};

use super::handles::{SinkHandle, SourceCell, SourceHandle};
use super::SinkCell;

/// `(source_id, watermark)` pairs, as a checkpoint record holds them.
type Watermarks = Vec<(u16, i64)>;

/// Both registries. Guarded by `Shared::registry`.
#[derive(Debug, Default)]
pub(super) struct Registry {
    source_ids: BTreeMap<String, u16>,
    sources: BTreeMap<u16, Arc<CachePadded<SourceCell>>>,
    sink_ids: BTreeMap<String, u16>,
    sinks: BTreeMap<u16, SinkCell>,
}

impl Registry {
    /// The registries the journal holds, each cell starting at the position `last`
    /// (the newest checkpoint) recorded for it.
    pub(super) fn restore(c: &Coordination, last: Option<&CheckpointRecord>) -> Registry {
        let find = |pairs: Option<&Vec<(u16, u64)>>, id: u16| {
            pairs.and_then(|p| p.iter().find(|(i, _)| *i == id).map(|(_, v)| *v))
        };
        let mut r = Registry::default();
        for (name, &id) in &c.sources {
            let sequence = find(last.map(|l| &l.source_sequences), id).unwrap_or(0);
            let watermark = last
                .and_then(|l| l.watermarks.iter().find(|(i, _)| *i == id).map(|(_, w)| *w))
                .unwrap_or(i64::MIN);
            r.source_ids.insert(name.clone(), id);
            r.sources.insert(
                id,
                Arc::new(CachePadded::new(SourceCell::new(sequence, watermark))),
            );
        }
        for (name, &id) in &c.sinks {
            let position = find(last.map(|l| &l.sink_positions), id).unwrap_or(0);
            r.sink_ids.insert(name.clone(), id);
            r.sinks
                .insert(id, Arc::new(CachePadded::new(AtomicU64::new(position))));
        }
        r
    }

    pub(super) fn source_ids(&self) -> &BTreeMap<String, u16> {
        &self.source_ids
    }

    /// The handle of source `name`, registering it first if it is new.
    pub(super) fn source(&mut self, journal: &Journal, name: &str) -> Result<SourceHandle> {
        if let Some(&id) = self.source_ids.get(name) {
            if let Some(cell) = self.sources.get(&id) {
                return Ok(SourceHandle {
                    id,
                    cell: Arc::clone(cell),
                });
            }
        }
        let id = free_id("source", name, &self.sources)?;
        journal.append_meta(&MetaRecord::SourceRegistered {
            name: name.to_owned(),
            source_id: id,
        })?;
        let cell = Arc::new(CachePadded::new(SourceCell::new(0, i64::MIN)));
        self.source_ids.insert(name.to_owned(), id);
        self.sources.insert(id, Arc::clone(&cell));
        Ok(SourceHandle { id, cell })
    }

    /// The handle of sink `name`, registering it first if it is new.
    pub(super) fn sink(&mut self, journal: &Journal, name: &str) -> Result<SinkHandle> {
        if let Some(&id) = self.sink_ids.get(name) {
            if let Some(cell) = self.sinks.get(&id) {
                return Ok(SinkHandle {
                    id,
                    position: Arc::clone(cell),
                });
            }
        }
        let id = free_id("sink", name, &self.sinks)?;
        journal.append_meta(&MetaRecord::SinkRegistered {
            name: name.to_owned(),
            sink_id: id,
        })?;
        let cell: SinkCell = Arc::new(CachePadded::new(AtomicU64::new(0)));
        self.sink_ids.insert(name.to_owned(), id);
        self.sinks.insert(id, Arc::clone(&cell));
        Ok(SinkHandle { id, position: cell })
    }

    /// `(source_sequences, watermarks)` of every source, by id.
    pub(super) fn capture_sources(&self) -> (Vec<(u16, u64)>, Watermarks) {
        let mut sequences = Vec::with_capacity(self.sources.len());
        let mut watermarks = Vec::with_capacity(self.sources.len());
        for (&id, cell) in &self.sources {
            let (sequence, watermark) = cell.capture();
            sequences.push((id, sequence));
            watermarks.push((id, watermark));
        }
        (sequences, watermarks)
    }

    /// `(sink_id, position)` of every sink.
    pub(super) fn capture_sinks(&self) -> Vec<(u16, u64)> {
        self.sinks
            .iter()
            // Acquire: pairs with the Release in `SinkHandle::set_position`.
            .map(|(&id, cell)| (id, cell.load(Ordering::Acquire)))
            .collect()
    }
}

/// The lowest id not in `taken`, after checking `name`.
fn free_id<T>(what: &'static str, name: &str, taken: &BTreeMap<u16, T>) -> Result<u16> {
    if name.is_empty() || name.len() > META_NAME_BYTES_MAX {
        return Err(Error::InvalidOptions {
            field: "name",
            reason: format!("a {what} name is 1 to {META_NAME_BYTES_MAX} bytes"),
        });
    }
    if taken.len() >= REGISTRY_IDS_MAX {
        return Err(Error::RegistryFull {
            what,
            name: name.to_owned(),
            max: REGISTRY_IDS_MAX,
        });
    }
    // Ids are handed out in order, so the count is free unless a journal was written
    // with gaps; then the first gap is.
    let hint = u16::try_from(taken.len()).unwrap_or(u16::MAX);
    if !taken.contains_key(&hint) {
        return Ok(hint);
    }
    (0..=u16::MAX)
        .find(|id| !taken.contains_key(id))
        .ok_or(Error::RegistryFull {
            what,
            name: name.to_owned(),
            max: REGISTRY_IDS_MAX,
        })
}
