//! Background compaction: a thread that runs [`Compactor::run`] when enough bytes were
//! appended since the last snapshot, or enough time passed, whichever the policy names.
//!
//! Appenders never wait for it: compaction takes no lock an append takes. It shares the
//! storage (one flush, the snapshot write, file removals) and the CPU with them; the
//! measured effect on append latency is in docs/PERFORMANCE.md.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::Compactor;
use crate::append::Log;
use crate::error::{Error, Result};
use crate::sync::Arc;

/// Longest pause between two checks of the byte trigger.
const TICK_MAX: Duration = Duration::from_millis(20);

/// When background compaction runs (`Options::compaction`). At least one trigger must
/// be set; with both, whichever comes first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compaction {
    /// Compact once this many bytes were appended since the last snapshot.
    pub every_bytes: Option<u64>,
    /// Compact at least this often.
    pub every: Option<Duration>,
}

impl Compaction {
    /// Compacts once `bytes` were appended since the last snapshot.
    #[must_use]
    pub fn every_bytes(mut self, bytes: u64) -> Compaction {
        self.every_bytes = Some(bytes);
        self
    }

    /// Compacts at least every `interval`.
    #[must_use]
    pub fn every(mut self, interval: Duration) -> Compaction {
        self.every = Some(interval);
        self
    }

    /// Checks the policy; each invalid value is an error naming the field.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`].
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: &str| Error::InvalidOptions {
            field: "compaction",
            reason: reason.into(),
        };
        match (self.every_bytes, self.every) {
            (None, None) => Err(invalid(
                "no trigger: set every_bytes, every, or both (or leave compaction unset)",
            )),
            (Some(0), _) => Err(invalid(
                "every_bytes(0) would compact continuously; use a positive byte count",
            )),
            (_, Some(d)) if d.is_zero() => Err(invalid(
                "every(0) would compact continuously; use a positive interval",
            )),
            _ => Ok(()),
        }
    }

    fn tick(&self) -> Duration {
        self.every.map_or(TICK_MAX, |d| d.min(TICK_MAX))
    }
}

/// The background compaction thread; stopped (and joined) by [`Background::stop`].
#[derive(Debug)]
pub(crate) struct Background {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Starts the thread; `None` if it could not be spawned (logged: compaction then
    /// runs only when asked).
    pub(crate) fn start(
        log: &Arc<Log>,
        compactor: &Arc<Compactor>,
        policy: Compaction,
    ) -> Option<Background> {
        let (tx, rx) = mpsc::channel::<()>();
        let (log, compactor) = (Arc::clone(log), Arc::clone(compactor));
        let spawned = std::thread::Builder::new()
            .name("cpj-compact".into())
            .spawn(move || run_loop(&rx, &log, &compactor, policy));
        match spawned {
            Ok(handle) => Some(Background {
                stop: Some(tx),
                handle: Some(handle),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "could not start background compaction");
                None
            }
        }
    }

    /// Stops the thread after the compaction under way, if any, and waits for it.
    pub(crate) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn run_loop(rx: &mpsc::Receiver<()>, log: &Arc<Log>, compactor: &Compactor, policy: Compaction) {
    let mut last_at = Instant::now();
    let mut last_lsn = compactor.newest_snapshot().map_or(0, |l| l.0);
    loop {
        match rx.recv_timeout(policy.tick()) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let grown = log.reserved_end().0.saturating_sub(last_lsn);
        let due = policy.every_bytes.is_some_and(|b| grown >= b)
            || policy.every.is_some_and(|d| last_at.elapsed() >= d);
        if !due {
            continue;
        }
        last_at = Instant::now();
        match compactor.run(log) {
            Ok(report) => last_lsn = report.snapshot_lsn.0,
            Err(e @ Error::Poisoned { .. }) => {
                tracing::error!(error = %e, "background compaction stops: the journal is poisoned");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "background compaction failed; retrying later"),
        }
    }
}
