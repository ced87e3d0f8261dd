//! The preallocator: a background thread that creates the next segment ahead of need,
//! so that a roll-over finds it ready (`Log::obtain_segment` takes the spare).

use std::sync::mpsc;

use super::Log;
use crate::sync::{lock, Arc};

impl Log {
    /// Starts the background thread that creates the next segment ahead of need.
    pub(crate) fn start_preallocator(self: &Arc<Log>) {
        let (tx, rx) = mpsc::channel::<u64>();
        let log = Arc::clone(self);
        // The thread ends when `stop_preallocator` drops the sender.
        let spawned = std::thread::Builder::new()
            .name("cpj-prealloc".into())
            .spawn(move || {
                while let Ok(base) = rx.recv() {
                    log.create_spare(base);
                }
            });
        if let Ok(handle) = spawned {
            *lock(&self.preallocator) = Some((tx, handle));
            if let Some(end) = lock(&self.segments).active().map(|(_, s)| s.end()) {
                self.request_spare(end);
            }
        }
    }

    /// Stops the preallocator and waits for a creation under way, so nothing touches the
    /// directory once the journal has released its lock.
    pub(crate) fn stop_preallocator(&self) {
        let taken = lock(&self.preallocator).take();
        if let Some((tx, handle)) = taken {
            drop(tx);
            let _ = handle.join();
        }
    }

    pub(super) fn request_spare(&self, base: u64) {
        if let Some((tx, _)) = lock(&self.preallocator).as_ref() {
            let _ = tx.send(base);
        }
    }

    fn create_spare(&self, base: u64) {
        let _rolling = lock(&self.roll_lock);
        {
            // Only the segment right after the active one, and only once: a request that
            // waited in the channel while the log rolled past `base` (and compaction may
            // have retired it since) must not create that file again.
            let table = lock(&self.segments);
            if table.active().map(|(_, s)| s.end()) != Some(base) || table.spare.is_some() {
                return;
            }
        }
        if !self.spare_fits() {
            // Over the segment bound: the roll-over compacts first, then creates it.
            return;
        }
        match self.create_segment(base) {
            Ok(seg) => lock(&self.segments).spare = Some(Arc::new(seg)),
            // The roll creates the segment itself and reports the error to its caller.
            Err(e) => {
                tracing::warn!(error = %e, base, "could not create the next segment ahead of need");
            }
        }
    }
}
