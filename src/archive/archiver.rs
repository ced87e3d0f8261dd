//! `Archiver`: the handle of the background thread that uploads sealed segments and
//! advances the manifest. The thread owns its tokio runtime and its store requests, so
//! an append never waits for the network; it only reads segments already sealed.
//!
//! Lifecycle: `start` probes the store and takes the archive over before it returns
//! (so a refused store or a foreign manifest is the caller's error at once); then the
//! thread polls for sealed segments until `stop`. A transient failure is counted in
//! the stats and retried on the next round; a permanent one (fenced, a poisoned
//! journal, a store that changed behaviour) stops archiving, shows in
//! [`ArchiveStats::stopped`] and is returned by the next call.

use std::fmt;
use std::time::{Duration, Instant};

use object_store::ObjectStore;

use super::config::{ArchiveConfig, ArchiveMode, ArchiveStats};
use super::probe::probe;
use super::publish::Publisher;
use super::remote::Remote;
use super::upload::Uploader;
use crate::append::Log;
use crate::compaction::Pin;
use crate::error::{Error, Result};
use crate::lsn::Lsn;
use crate::sync::{lock, Arc, Condvar, Mutex};

/// State shared between the handle and the thread.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) stats: Mutex<ArchiveStats>,
    /// The error that stopped archiving, kept for the next call.
    failure: Mutex<Option<Error>>,
    stop: Mutex<bool>,
    /// Signalled on stop and whenever the stats change.
    pub(crate) changed: Condvar,
}

/// A running archiver; stops (after the round in progress) when dropped.
pub struct Archiver {
    shared: Arc<Shared>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for Archiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Archiver")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Archiver {
    /// Probes, takes the archive under `prefix` over, and starts the thread.
    pub(crate) fn start(
        log: Arc<Log>,
        pin: Pin,
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        config: ArchiveConfig,
    ) -> Result<Archiver> {
        let shared = Arc::new(Shared::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let prefix = prefix.to_owned();
        let handle = std::thread::Builder::new()
            .name("cpj-archiver".into())
            .spawn(move || {
                let started = begin(&log, pin, store, &prefix, &config);
                match started {
                    Ok(uploader) => {
                        uploader.publish_stats(&thread_shared);
                        let _ = tx.send(Ok(()));
                        run(uploader, &thread_shared, &config);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| Error::io("", "start the archiver thread", e))?;
        let outcome = rx.recv().unwrap_or_else(|_| {
            Err(Error::RemoteCorrupt {
                key: String::new(),
                reason: "the archiver thread died".into(),
            })
        });
        let archiver = Archiver {
            shared,
            handle: Some(handle),
        };
        outcome.map(|()| archiver)
    }

    /// What the archiver has done so far.
    #[must_use]
    pub fn stats(&self) -> ArchiveStats {
        lock(&self.shared.stats).clone()
    }

    /// Waits until every segment below `lsn` is archived (published in the manifest) or
    /// `timeout` passes; returns the archived LSN. Only sealed segments are archived, so
    /// `lsn` is reached once the segment holding it has rolled over.
    ///
    /// # Errors
    /// The permanent error that stopped archiving, if any.
    pub fn wait_archived(&self, lsn: Lsn, timeout: Duration) -> Result<Lsn> {
        let deadline = Instant::now() + timeout;
        let mut stats = lock(&self.shared.stats);
        loop {
            if let Some(e) = self.failure() {
                return Err(e);
            }
            if stats.archived_lsn >= lsn.0 {
                return Ok(Lsn(stats.archived_lsn));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Lsn(stats.archived_lsn));
            }
            stats = match self
                .shared
                .changed
                .wait_timeout(stats, left.min(Duration::from_millis(100)))
            {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// The permanent error that stopped archiving, if any.
    ///
    /// # Errors
    /// That error.
    pub fn check(&self) -> Result<()> {
        self.failure().map_or(Ok(()), Err)
    }

    /// Stops the thread after the round in progress; returns the final stats.
    ///
    /// # Errors
    /// The permanent error that stopped archiving, if any.
    pub fn stop(mut self) -> Result<ArchiveStats> {
        self.halt();
        self.check()?;
        Ok(self.stats())
    }

    fn failure(&self) -> Option<Error> {
        lock(&self.shared.failure).as_ref().map(copy_error)
    }

    fn halt(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.changed.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Archiver {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Probe (fenced mode), take over, reconcile with the local journal.
fn begin(
    log: &Arc<Log>,
    pin: Pin,
    store: Arc<dyn ObjectStore>,
    prefix: &str,
    config: &ArchiveConfig,
) -> Result<Uploader> {
    let remote = Remote::new(store, config)?;
    let writer_id = crate::journal::create::random_id();
    if config.mode == ArchiveMode::Fenced {
        let found = probe(&remote, prefix, writer_id)?;
        let store = remote.store.to_string();
        if !found.create_fenced {
            let detail = "a second create-only write of one key was applied";
            return Err(Error::PreconditionsIgnored { store, detail });
        }
        if !found.update_fenced {
            let detail = "a conditional update is not implemented, or one naming a stale version was applied";
            return Err(Error::PreconditionsIgnored { store, detail });
        }
    }
    let publisher = Publisher::take_over(&remote, prefix, log.journal_id, writer_id, config.mode)?;
    Uploader::new(Arc::clone(log), pin, remote, publisher, prefix, config)
}

/// The thread's loop: rounds until stopped or stopped for good.
fn run(mut uploader: Uploader, shared: &Shared, config: &ArchiveConfig) {
    let mut pause = config.poll_interval;
    loop {
        if *lock(&shared.stop) {
            return;
        }
        match uploader.round(shared) {
            Ok(()) => pause = config.poll_interval,
            Err(e) if is_permanent(&e) => {
                tracing::error!(error = %e, "archiving stopped");
                let mut stats = lock(&shared.stats);
                stats.errors += 1;
                stats.last_error = Some(e.to_string());
                stats.stopped = Some(e.to_string());
                *lock(&shared.failure) = Some(e);
                drop(stats);
                shared.changed.notify_all();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "archive round failed; retrying later");
                let mut stats = lock(&shared.stats);
                stats.errors += 1;
                stats.last_error = Some(e.to_string());
                pause = (pause * 2).clamp(config.backoff_initial, config.backoff_max);
            }
        }
        let stop = lock(&shared.stop);
        if !*stop {
            let _ = shared.changed.wait_timeout(stop, pause);
        }
    }
}

/// Errors after which archiving can never succeed without an operator.
fn is_permanent(e: &Error) -> bool {
    !matches!(e, Error::Remote { .. })
}

/// A copy of an archiving error for the next caller (errors are not `Clone`).
fn copy_error(e: &Error) -> Error {
    match e {
        Error::Fenced {
            key,
            epoch,
            found_epoch,
        } => Error::Fenced {
            key: key.clone(),
            epoch: *epoch,
            found_epoch: *found_epoch,
        },
        Error::PreconditionsIgnored { store, detail } => Error::PreconditionsIgnored {
            store: store.clone(),
            detail,
        },
        Error::RemoteCorrupt { key, reason } => Error::RemoteCorrupt {
            key: key.clone(),
            reason: reason.clone(),
        },
        Error::ForeignJournal {
            path,
            expected,
            found,
        } => Error::ForeignJournal {
            path: path.clone(),
            expected: *expected,
            found: *found,
        },
        Error::Poisoned { durable, cause } => Error::Poisoned {
            durable: *durable,
            cause: cause.clone(),
        },
        other => Error::Remote {
            op: "archive",
            key: String::new(),
            source: other.to_string().into(),
        },
    }
}
