//! Closing a journal: the final flush and close marker, the background threads, and
//! what dropping an open journal does.

use super::Journal;
use crate::error::{Error, Result};
use crate::flush;
use crate::sync::lock;

impl Journal {
    /// Flushes, writes a marker frame that claims everything before it durable (so damage
    /// anywhere in the journal is recognised as such on the next open), flushes again,
    /// and releases the lock.
    ///
    /// # Errors
    /// [`Error::Poisoned`] or the failing I/O.
    pub fn close(mut self) -> Result<()> {
        let outcome = self.shutdown();
        // The close marker was written from this thread: release its cached mapping.
        self.log.release_thread_cache();
        // Done (or failed) once: dropping must not flush or write a marker again.
        self.abandoned = true;
        outcome
    }

    /// Releases the journal without flushing and without the close marker: the files
    /// are left exactly as a process crash would leave them (every published frame is in
    /// the page cache, nothing more is made durable). The owner lease is released, as
    /// on close: this process no longer owns the journal. For crash tests and tools.
    pub fn close_without_flush(mut self) {
        self.abandoned = true;
    }

    fn stop_threads(&self) {
        if let Some(mut background) = lock(&self.background).take() {
            background.stop();
        }
        if let Some(mut f) = lock(&self.flusher).take() {
            f.stop();
        }
        self.log.stop_preallocator();
        self.observers.stop();
        lock(&self.summarizer).stop();
    }

    fn shutdown(&self) -> Result<()> {
        self.stop_threads();
        self.log.frontier.check_poison()?;
        flush::flush_all(&self.log)?;
        self.log.append_marker()?;
        let end = flush::flush_all(&self.log)?;
        lock(&self.summarizer).catch_up(&self.log);
        // Retired files kept for recycling are not part of the journal.
        self.log.drop_free_files();
        // Last: the next open may skip reading the tail (docs/DURABILITY.md).
        crate::recovery::record_clean_shutdown(&self.log, end);
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if self.abandoned {
            self.stop_threads();
        } else if let Err(e) = self.shutdown() {
            if !matches!(e, Error::Poisoned { .. }) {
                tracing::warn!(error = %e, dir = %self.log.dir.display(), "flush on drop failed");
            }
        }
        // Last: the close marker `shutdown` writes goes through this thread's cache, and
        // a cache entry left behind would keep the segment mapped until this thread's
        // next append (to any journal), which would then pay for the unmapping.
        self.log.release_thread_cache();
    }
}
