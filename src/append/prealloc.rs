//! The preallocator: a background thread that creates the next segment ahead of need,
//! so that a roll-over finds it ready (`Log::obtain_segment` takes the spare).
//!
//! The spare asked for at open waits until the active segment is
//! 1/[`FIRST_SPARE_FILL_DIVISOR`] full: creating and prefaulting 64 MiB takes tens of
//! milliseconds of CPU and filesystem work, and run in the first moments after open it
//! delayed the `Sync` appends made then (a batch's sync up to 55 ms against ~1.5 ms
//! without it; docs/PERFORMANCE.md, "`Sync` batches right after open"). Spares asked for
//! at a roll-over are made at once.

use std::sync::mpsc;
use std::time::Duration;

use super::Log;
use crate::sync::{lock, Arc};

/// The spare asked for at open is made once the active segment is this fraction full.
const FIRST_SPARE_FILL_DIVISOR: u64 = 16;
/// First and longest interval between two looks at how full the active segment is.
const FILL_POLL_MIN: Duration = Duration::from_millis(1);
const FILL_POLL_MAX: Duration = Duration::from_millis(100);

impl Log {
    /// Starts the background thread that creates the next segment ahead of need.
    pub(crate) fn start_preallocator(self: &Arc<Log>) {
        let (tx, rx) = mpsc::channel::<u64>();
        let log = Arc::clone(self);
        // The thread ends when `stop_preallocator` drops the sender.
        let spawned = std::thread::Builder::new()
            .name("cpj-prealloc".into())
            .spawn(move || {
                let mut first = true;
                while let Ok(mut base) = rx.recv() {
                    if std::mem::take(&mut first) {
                        match log.wait_until_filling(base, &rx) {
                            Some(next) => base = next,
                            None => break,
                        }
                    }
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

    /// Waits until the active segment ending at `base` is
    /// 1/[`FIRST_SPARE_FILL_DIVISOR`] full (or the log is past it), polling the reserved
    /// end at growing intervals. Returns the base of the spare to make now (a later one
    /// if a roll-over asked meanwhile), or `None` once the preallocator is stopped.
    fn wait_until_filling(&self, base: u64, rx: &mpsc::Receiver<u64>) -> Option<u64> {
        let mut poll = FILL_POLL_MIN;
        loop {
            let start = match lock(&self.segments).active() {
                Some((_, s)) if s.end() == base => s.base(),
                // Rolled past it: `create_spare` decides.
                _ => return Some(base),
            };
            let reserved = self.reserved_end().0.saturating_sub(start);
            if reserved >= (base - start) / FIRST_SPARE_FILL_DIVISOR {
                return Some(base);
            }
            match rx.recv_timeout(poll) {
                Ok(next) => return Some(next),
                Err(mpsc::RecvTimeoutError::Timeout) => poll = (poll * 2).min(FILL_POLL_MAX),
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            }
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
