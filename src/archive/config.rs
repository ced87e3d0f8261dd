//! How an archiver runs (`ArchiveConfig`, `ArchiveMode`) and what it reports
//! (`ArchiveStats`, serialisable for `Journal::stats` and `cpj archive status`).

use std::time::Duration;

use serde::Serialize;

/// Whether the archive is fenced against a second writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub enum ArchiveMode {
    /// The manifest is advanced only by conditional writes: a stale or zombie writer can
    /// never move it, and gets [`crate::Error::Fenced`]. Refused (with
    /// [`crate::Error::PreconditionsIgnored`]) on a store whose probe shows it ignores
    /// preconditions or cannot update conditionally.
    #[default]
    Fenced,
    /// The manifest is overwritten unconditionally. Correct only if exactly one process
    /// ever archives to the prefix; for stores without conditional writes (the local
    /// filesystem, Garage). Segment keys stay create-only where the store honours it.
    SingleWriter,
}

/// How an archiver runs. Builder methods; the defaults suit a journal of 64 MiB segments.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ArchiveConfig {
    /// Fenced (default) or single-writer.
    pub mode: ArchiveMode,
    /// Sealed segments held for upload at once; further sealed segments wait on disk
    /// (the backlog in [`ArchiveStats::backlog_segments`]) and appends never wait.
    pub queue_segments_max: usize,
    /// How often the archiver looks for newly sealed segments.
    pub poll_interval: Duration,
    /// Attempts per request when the store fails transiently (timeouts, 5xx).
    pub attempts_max: u32,
    /// First retry delay; doubled per attempt up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest retry delay, also the pause after a round that ended in an error.
    pub backoff_max: Duration,
    /// Snapshots the manifest keeps (at least 1); segments that end before the oldest
    /// kept one leave the manifest, and garbage collection deletes them.
    pub keep_snapshots: usize,
}

impl Default for ArchiveConfig {
    fn default() -> ArchiveConfig {
        ArchiveConfig {
            mode: ArchiveMode::Fenced,
            queue_segments_max: 4,
            poll_interval: Duration::from_millis(50),
            attempts_max: 5,
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            keep_snapshots: 2,
        }
    }
}

impl ArchiveConfig {
    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: ArchiveMode) -> ArchiveConfig {
        self.mode = mode;
        self
    }

    /// Sets how many sealed segments are held for upload at once (at least 1).
    #[must_use]
    pub fn queue_segments_max(mut self, segments: usize) -> ArchiveConfig {
        self.queue_segments_max = segments.max(1);
        self
    }

    /// Sets the polling interval.
    #[must_use]
    pub fn poll_interval(mut self, every: Duration) -> ArchiveConfig {
        self.poll_interval = every;
        self
    }

    /// Sets how many snapshots the manifest keeps (at least 1).
    #[must_use]
    pub fn keep_snapshots(mut self, keep: usize) -> ArchiveConfig {
        self.keep_snapshots = keep.max(1);
        self
    }

    /// Sets the retry bound and delays for transient errors.
    #[must_use]
    pub fn retries(mut self, attempts_max: u32, initial: Duration, max: Duration) -> ArchiveConfig {
        self.attempts_max = attempts_max.max(1);
        self.backoff_initial = initial;
        self.backoff_max = max.max(initial);
        self
    }
}

/// What the archiver has done so far; a snapshot, cheap to take.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ArchiveStats {
    /// The manifest's epoch this archiver writes under.
    pub epoch: u64,
    /// Sealed segments taken for upload and not yet published in the manifest.
    pub queue_depth: u64,
    /// Sealed, durable segments not yet taken for upload (the queue was full).
    pub backlog_segments: u64,
    /// Snapshots uploaded since start.
    pub snapshots_uploaded: u64,
    /// LSN of the newest snapshot in the manifest.
    pub snapshot_lsn: Option<u64>,
    /// Segments uploaded since start.
    pub segments_uploaded: u64,
    /// Bytes uploaded since start.
    pub bytes_uploaded: u64,
    /// Manifest updates published since start.
    pub manifests_published: u64,
    /// LSN below which every segment is published in the manifest.
    pub archived_lsn: u64,
    /// Requests retried after a transient error.
    pub retries: u64,
    /// Rounds that ended in an error (each retried later unless permanent).
    pub errors: u64,
    /// The last error, as text.
    pub last_error: Option<String>,
    /// Set when archiving stopped for good (fenced, or a permanent error).
    pub stopped: Option<String>,
}
