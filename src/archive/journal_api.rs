//! The archive's entry points on [`Journal`]: start an archiver, restore from an archive.

use std::path::Path;

use object_store::ObjectStore;

use super::archiver::Archiver;
use super::config::ArchiveConfig;
use super::restore::{restore, RestoreReport};
use crate::error::Result;
use crate::journal::Journal;
use crate::options::Options;
use crate::sync::Arc;

impl Journal {
    /// Starts archiving this journal's sealed segments to `store` under `prefix`
    /// (docs/ARCHIVING.md). Probes the store and takes the archive over before it
    /// returns; the upload runs on a thread of its own, so appends never wait for it.
    ///
    /// # Errors
    /// [`crate::Error::PreconditionsIgnored`] in fenced mode on a store that cannot
    /// fence; [`crate::Error::ForeignJournal`] when the prefix archives another journal;
    /// [`crate::Error::Remote`] when the store cannot be reached.
    pub fn start_archiver(
        &self,
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        config: ArchiveConfig,
    ) -> Result<Archiver> {
        let pin = self.pin_for_archive()?;
        Archiver::start(Arc::clone(self.log()), pin, store, prefix, config)
    }

    /// Restores the archive under `prefix` into the empty (or absent) directory `dir`,
    /// then opens it with `options`. The report names any archived segment that was
    /// missing or damaged: the journal is then restored up to the segment before it.
    ///
    /// # Errors
    /// As [`super::restore()`], then as [`Journal::open`].
    pub fn restore_from(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        dir: impl AsRef<Path>,
        options: Options,
    ) -> Result<(Journal, RestoreReport)> {
        let report = restore(store, prefix, dir.as_ref())?;
        let journal = Journal::open(dir, options)?;
        Ok((journal, report))
    }
}
