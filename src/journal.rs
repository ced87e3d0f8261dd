//! `Journal`: the public handle. Ties options, storage, the append path, flushing and
//! recovery together; `Send + Sync`, so one journal serves many appending threads.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::append::{Appender, Log};
use crate::checkpoint::CheckpointRecord;
use crate::compaction::{Background, CompactionReport, Compactor};
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::flush::{self, GroupCommit, IntervalFlusher};
use crate::format::frame::FrameKind;
use crate::lsn::Lsn;
use crate::meta::MetaRecord;
use crate::options::{Durability, Options};
use crate::reader::{Frame, Reader};
use crate::recovery::{self, RecoveryReport};
use crate::state::State;
use crate::storage::{DirLock, FsStorage, Storage};
use crate::sync::{lock, Arc, Mutex, Weak};

mod close;
pub(crate) mod create;
use create::create;

/// An open journal with its writer lock held.
pub struct Journal {
    log: Arc<Log>,
    options: Options,
    report: RecoveryReport,
    /// Readers trust the frames from here on: recovery validated them, or this process
    /// wrote them (docs/DURABILITY.md "What a reader checks").
    checked_from: Lsn,
    /// State folded up to `state.end`; advanced lazily by [`Journal::state`].
    state: Arc<Mutex<State>>,
    flusher: Mutex<Option<IntervalFlusher>>,
    /// Set by `close_without_flush`: drop skips the final flush and marker.
    abandoned: bool,
    /// Compaction: snapshots, segment retirement, reader pins.
    compactor: Arc<Compactor>,
    /// The background compaction thread (`Options::compaction`).
    background: Mutex<Option<Background>>,
    /// Writes the summaries of sealed, durable segments (`src/summary.rs`).
    summarizer: Mutex<crate::summary::Summarizer>,
    // --- stats (observability and async) ---
    /// The `metrics` publisher, when that feature is on.
    observers: crate::stats::Observers,
    // Owner lease: declared before the lock, so it is released while the lock is held.
    _lease: crate::lease::Lease,
    _lock: Box<dyn DirLock>,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.log.dir)
            .field("journal_id", &format_args!("{:032x}", self.log.journal_id))
            .field("durability", &self.options.durability)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (or creates) the journal in `dir` on the real filesystem.
    ///
    /// # Errors
    /// Invalid options, [`Error::Locked`], and everything recovery can report.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Journal> {
        Journal::open_with_storage(dir, options, Arc::new(FsStorage))
    }

    /// Opens (or creates) the journal in `dir` on `storage`.
    ///
    /// # Errors
    /// As [`Journal::open`].
    pub fn open_with_storage(
        dir: impl AsRef<Path>,
        options: Options,
        storage: Arc<dyn Storage>,
    ) -> Result<Journal> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let _span = tracing::info_span!("open", dir = %dir.display()).entered();
        if options.create_if_missing {
            storage
                .create_dir_all(&dir)
                .map_err(|e| Error::io(&dir, "create directory", e))?;
        } else if let Err(e) = storage.list_dir(&dir) {
            return Err(if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound { path: dir }
            } else {
                Error::io(&dir, "list directory", e)
            });
        }
        let dir_lock = storage.lock_dir(&dir, &crate::storage::this_holder())?;
        // Owner lease: decided before recovery changes anything.
        let (mut lease, takeover) = crate::lease::acquire(&storage, &dir, options.force_takeover)?;
        let recovered = recovery::recover(&*storage, &dir, options.recovery_mode)?;
        let (journal_id, segments, state, mut report, checked_from) = match recovered {
            Some(r) => (r.journal_id, r.segments, r.state, r.report, r.checked_from),
            None if !options.create_if_missing => return Err(Error::NotFound { path: dir }),
            // A new journal: every frame in it will be written by this process.
            None => {
                create(&*storage, &dir, &options).map(|(i, s, st, r)| (i, s, st, r, Lsn::ZERO))?
            }
        };
        // Format upgrade: appends never go to a segment of an older format version.
        let end = recovery::seal_older_format(&segments, report.end_lsn)?;
        lease.bind(journal_id)?;
        report.lease_takeover = takeover;
        let mut log = Log::new(
            dir,
            storage,
            journal_id,
            options.segment_size_bytes,
            segments,
            end,
        );
        log.group_commit = GroupCommit {
            max_delay: options.group_commit_max_delay,
            max_bytes: options.group_commit_max_bytes,
        };
        let state = Arc::new(Mutex::new(state));
        let compactor = Arc::new(Compactor::new(
            Arc::clone(&state),
            options.keep_snapshots,
            report.snapshot.as_ref().map(|s| s.lsn),
        ));
        let log = with_disk_policy(log, &options, &compactor);
        if options.preallocate {
            log.start_preallocator();
        }
        let background = options
            .compaction
            .and_then(|policy| Background::start(&log, &compactor, policy));
        Ok(Journal {
            flusher: Mutex::new(match options.durability {
                Durability::Interval(every) => Some(IntervalFlusher::start(&log, every)),
                _ => None,
            }),
            summarizer: Mutex::new(crate::summary::Summarizer::start(&log, &report)),
            observers: crate::stats::Observers::start(&log, &options),
            log,
            options,
            report,
            checked_from,
            compactor,
            background: Mutex::new(background),
            state,
            abandoned: false,
            _lease: lease,
            _lock: dir_lock,
        })
    }

    /// Appends one entry; returns its frame's LSN. In `Sync` mode, returns once durable.
    ///
    /// # Errors
    /// [`Error::Poisoned`], or a segment that could not be created (full disk).
    #[inline]
    pub fn append(&self, entry: Entry) -> Result<Lsn> {
        let (lsn, end) = self.log.append_entries(std::slice::from_ref(&entry))?;
        self.after_append(end)?;
        Ok(lsn)
    }

    /// A per-thread handle for single-entry appends, caching the writable segment in
    /// itself: the fastest way to append one entry at a time from one thread
    /// ([`Appender`]).
    #[must_use]
    pub fn appender(&self) -> Appender<&Journal> {
        Appender::new(self)
    }

    /// Appends entries as one frame (split into several if larger than a frame may be:
    /// each frame is atomic, the batch as a whole recovers as a prefix). Returns the
    /// first frame's LSN.
    ///
    /// # Errors
    /// As [`Journal::append`]; an empty batch is [`Error::InvalidOptions`].
    pub fn append_batch(&self, entries: &[Entry]) -> Result<Lsn> {
        let (lsn, end) = self.log.append_entries(entries)?;
        self.after_append(end)?;
        Ok(lsn)
    }

    /// Appends a checkpoint record; returns its frame's LSN.
    ///
    /// # Errors
    /// As [`Journal::append`], and [`Error::TooLarge`] for a record over the limits.
    pub fn checkpoint(&self, record: &CheckpointRecord) -> Result<Lsn> {
        let bytes = record.encode().map_err(|e| Error::TooLarge {
            what: "checkpoint record",
            bytes: match e {
                crate::checkpoint::CheckpointError::TooLarge { bytes } => bytes as u64,
                _ => 0,
            },
            max: crate::format::limits::CHECKPOINT_BYTES_MAX as u64,
        })?;
        let (lsn, end) = self.checkpoint_bytes_unsynced(&bytes)?;
        self.after_append(end)?;
        Ok(lsn)
    }

    /// Appends an encoded checkpoint record without waiting for it in `Sync` mode;
    /// returns the frame's LSN and the LSN just past it.
    pub(crate) fn checkpoint_bytes_unsynced(&self, bytes: &[u8]) -> Result<(Lsn, Lsn)> {
        self.log.append_bytes(FrameKind::Checkpoint, bytes)
    }

    /// Waits until everything below `end` is durable: in `Sync` mode only, or in every
    /// mode with `always`.
    pub(crate) fn settle(&self, end: Lsn, always: bool) -> Result<()> {
        if always {
            flush::flush_to(&self.log, end)?;
            return Ok(());
        }
        self.after_append(end)
    }

    // Checkpoint coordination.
    /// Appends a meta record (checkpoint coordination: registries, progress, cursors);
    /// returns its frame's LSN. In `Sync` mode, returns once durable. Used by
    /// `CheckpointCoordinator` and `Cursor`; records written by hand must follow
    /// docs/FORMAT.md "Meta records".
    ///
    /// # Errors
    /// As [`Journal::append`], and [`Error::TooLarge`] for a record over the limits.
    #[doc(hidden)]
    pub fn append_meta(&self, record: &MetaRecord) -> Result<Lsn> {
        let (lsn, end) = self.append_meta_unsynced(record)?;
        self.after_append(end)?;
        Ok(lsn)
    }

    /// Appends a meta record without waiting for it in `Sync` mode; returns the frame's
    /// LSN and the LSN just past it (pass it to `sync_to`).
    pub(crate) fn append_meta_unsynced(&self, record: &MetaRecord) -> Result<(Lsn, Lsn)> {
        let bytes = record.encode().map_err(|e| Error::TooLarge {
            what: "meta record",
            bytes: match e {
                crate::meta::MetaError::TooLarge { bytes } => bytes as u64,
                _ => 0,
            },
            max: crate::format::limits::META_RECORD_BYTES_MAX as u64,
        })?;
        self.log.append_bytes(FrameKind::Meta, &bytes)
    }

    #[inline]
    pub(crate) fn after_append(&self, end: Lsn) -> Result<()> {
        if self.options.durability == Durability::Sync {
            flush::flush_to(&self.log, end)?;
        }
        Ok(())
    }

    /// Makes everything appended so far durable; returns the durable frontier.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if this or an earlier flush failed.
    pub fn flush(&self) -> Result<Lsn> {
        flush::flush_all(&self.log)
    }

    /// The LSN below which every frame is durable.
    #[must_use]
    pub fn durable_lsn(&self) -> Lsn {
        self.log.frontier.durable()
    }

    /// Blocks until the frame at `lsn` is durable or `timeout` passes (flushing is left
    /// to `Interval` mode, `Sync` appenders or [`Journal::flush`]); returns the frontier.
    ///
    /// # Errors
    /// [`Error::Poisoned`].
    pub fn wait_durable(&self, lsn: Lsn, timeout: Duration) -> Result<Lsn> {
        flush::wait_durable(&self.log, lsn, timeout)
    }

    /// The LSN just past the last published frame.
    #[must_use]
    pub fn end_lsn(&self) -> Lsn {
        Lsn(flush::advance_published(&self.log))
    }

    /// The oldest LSN in the journal.
    #[must_use]
    pub fn first_lsn(&self) -> Lsn {
        Lsn(lock(&self.log.segments)
            .by_base
            .keys()
            .next()
            .copied()
            .unwrap_or(0))
    }

    /// Frames from `lsn` (a frame's start) to the end of what is published. The reader
    /// pins its position: compaction keeps the segments from there on while it lives.
    ///
    /// # Errors
    /// [`Error::InvalidLsn`] if `lsn` is outside the journal; [`Error::Compacted`] if
    /// compaction retired it.
    pub fn read_from(&self, lsn: Lsn) -> Result<Reader> {
        let pin = self.compactor.pins.register(lsn.0, || {
            let first = self.first_lsn();
            let end = self.end_lsn();
            if let Some(snapshot_lsn) = self.compactor.newest_snapshot().filter(|_| lsn < first) {
                return Err(Error::Compacted {
                    requested: lsn,
                    oldest_available: first,
                    snapshot_lsn,
                });
            }
            if lsn < first || lsn > end || !lsn.0.is_multiple_of(8) {
                return Err(Error::InvalidLsn { lsn, first, end });
            }
            Ok(())
        })?;
        Ok(Reader::new(Arc::clone(&self.log), lsn)
            .trusting(self.checked_from)
            .pinned(pin))
    }

    /// A reader that follows the writer from `lsn`: [`Reader::try_next`] and
    /// [`Reader::next_timeout`] return frames as they are published, across roll-overs.
    ///
    /// # Errors
    /// As [`Journal::read_from`].
    pub fn tail(&self, lsn: Lsn) -> Result<Reader> {
        self.read_from(lsn)
    }

    // --- stats (observability and async): the `tokio` feature ---
    /// As [`Journal::wait_durable`] without a timeout, as a future: waits (never
    /// blocking a runtime worker) until the frame at `lsn` is durable, woken by the
    /// flush that makes it so; returns the durable frontier. It does not flush: that is
    /// left to `Interval` mode, `Sync` appenders or [`Journal::flush`]. Wrap it in a
    /// timeout (`tokio::time::timeout`) to bound the wait.
    ///
    /// # Errors
    /// [`Error::Poisoned`], as soon as a flush fails.
    #[cfg(feature = "tokio")]
    pub async fn wait_durable_async(&self, lsn: Lsn) -> Result<Lsn> {
        crate::asynch::wait_durable(&self.log, lsn).await
    }

    /// As [`Journal::tail`], as a `futures_core::Stream` of frames that sleeps while
    /// nothing new is published and is woken by the next publication (no polling).
    ///
    /// # Errors
    /// As [`Journal::read_from`].
    #[cfg(feature = "tokio")]
    pub fn tail_async(&self, lsn: Lsn) -> Result<crate::asynch::AsyncTail> {
        let reader = self.read_from(lsn)?;
        Ok(crate::asynch::AsyncTail::new(Arc::clone(&self.log), reader))
    }

    /// Per-source progress and the last checkpoint, as of everything published now.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if a published frame fails validation.
    pub fn state(&self) -> Result<State> {
        let mut state = lock(&self.state);
        // Read before the frames: everything published by now is folded below, while
        // the frontier read after them could include a frame published since.
        let published = Lsn(self.log.frontier.published());
        for frame in Reader::new(Arc::clone(&self.log), state.end) {
            match frame? {
                Frame::Entries { lsn, entries } => {
                    state.apply_entries(&entries);
                    state.end = Lsn(lsn.0 + crate::region::entries_frame_len(entries.len()) as u64);
                }
                Frame::Checkpoint { lsn, record } => state.apply_checkpoint(lsn, record),
                Frame::Meta { lsn, record } => state.apply_meta(lsn, record),
            }
        }
        state.end = state.end.max(published);
        Ok(state.clone())
    }

    /// Compacts: writes a snapshot of the durable state (flushing first) and retires
    /// the segments no kept snapshot needs (see [`Options::keep_snapshots`]); returns
    /// the snapshot's LSN. Appends continue meanwhile.
    ///
    /// # Errors
    /// [`Error::Poisoned`], the failing I/O (nothing acknowledged is lost: the journal
    /// still opens from the previous snapshot), or [`Error::TooLarge`] for a state
    /// over the snapshot limit.
    pub fn compact(&self) -> Result<Lsn> {
        Ok(self.compactor.run(&self.log)?.snapshot_lsn)
    }

    /// What the last [`Journal::compact`] of this process did.
    #[must_use]
    pub fn last_compaction(&self) -> Option<CompactionReport> {
        self.compactor.last_report()
    }

    /// What opening found and did.
    #[must_use]
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The journal's random identity.
    #[must_use]
    pub fn journal_id(&self) -> u128 {
        self.log.journal_id
    }

    /// The journal's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.log.dir
    }

    /// The shared log (the archiver, [`Appender`]).
    pub(crate) fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// The archiver pins the segments it has not archived yet (feature `object-store`).
    #[cfg(feature = "object-store")]
    pub(crate) fn pin_for_archive(&self) -> Result<crate::compaction::Pin> {
        self.compactor.pins.register(0, || Ok(()))
    }

    /// Syncs that reached storage since open (group commit shares them between appends).
    #[must_use]
    pub fn flush_count(&self) -> u64 {
        self.log.frontier.flush_count()
    }

    // --- stats (Journal::stats) ---
    /// Counters and frontiers now: appends, flushes and their latency, the frontiers and
    /// the lags between them, segments, poisoning. Cheap (no appender waits for it);
    /// see [`crate::stats`].
    #[must_use]
    pub fn stats(&self) -> crate::stats::Stats {
        crate::stats::live(&self.log)
    }
}

/// `log` in an `Arc`, with the segment recycling and bound of `options`; a roll-over
/// over the bound runs `compactor` (holding the log weakly: no cycle).
fn with_disk_policy(mut log: Log, options: &Options, compactor: &Arc<Compactor>) -> Arc<Log> {
    log.disk.recycle = options.recycle_segments;
    log.disk.max_segment_bytes = options.max_segment_bytes;
    Arc::new_cyclic(|me: &Weak<Log>| {
        let (me, compactor, dir) = (me.clone(), Arc::clone(compactor), log.dir.clone());
        log.disk.compact = Some(Box::new(move || {
            let closing = || std::io::Error::other("the journal is closing");
            let log = me
                .upgrade()
                .ok_or_else(|| Error::io(&dir, "compact", closing()))?;
            compactor.run(&log)
        }));
        log
    })
}
