//! What recovery reports: the `RecoveryReport` of an open, the frames a truncation
//! dropped, the segments found, and a dry run's `Inspection`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::RecoveryCase;
use crate::lsn::Lsn;
use crate::state::State;

/// Frames dropped by a truncation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// First dropped LSN.
    pub from: Lsn,
    /// LSN just past the last valid frame found after `from` (equal to `from` if none).
    pub to: Lsn,
    /// Valid frames found after the invalid one (and dropped with it).
    pub valid_frames: u64,
    /// The fault at `from`.
    pub fault: String,
}

/// What opening the journal found and did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecoveryReport {
    /// A new journal was created.
    pub created: bool,
    /// Segment files validated.
    pub segments_scanned: usize,
    /// Valid frames read.
    pub frames_scanned: u64,
    /// Entries replayed into the state.
    pub entries_replayed: u64,
    /// Checkpoints replayed.
    pub checkpoints_replayed: u64,
    /// First LSN in the journal.
    pub first_lsn: Lsn,
    /// LSN where appends continue.
    pub end_lsn: Lsn,
    /// Highest durable frontier claimed by a valid frame.
    pub durable_claim: Lsn,
    /// The decision-table row that ended the scan (`None`: every segment was full).
    pub case: Option<RecoveryCase>,
    /// Non-zero bytes zeroed by truncation.
    pub torn_bytes: u64,
    /// What a truncation dropped.
    pub dropped: Option<Dropped>,
    /// Segments removed because their creation never completed (a header that never
    /// reached the disk). In a dry run, the files opening would remove.
    pub removed_files: Vec<PathBuf>,
    /// Empty segments past the end (a preallocated spare, or one created just before a
    /// crash), removed so that appends create them afresh with a synced header. In a
    /// dry run, the files opening would remove.
    pub empty_segments_removed: Vec<PathBuf>,
    /// The segments, in LSN order.
    pub segments: Vec<SegmentInfo>,
    /// Nothing was changed: this is what opening would do ([`inspect`]).
    pub dry_run: bool,
    /// Time taken.
    pub duration: Duration,
    // Compaction.
    /// The snapshot replay started from (`None`: replay started at the first segment).
    pub snapshot: Option<super::SnapshotInfo>,
    /// Newer snapshots that were not used, each with its reason, newest first.
    pub snapshots_skipped: Vec<super::SkippedSnapshot>,
    /// Temporary files of a snapshot publication that never finished, and retired
    /// segment files kept for recycling (`*.seg.free`), removed. In a dry run, the files
    /// opening would remove.
    pub temp_files_removed: Vec<PathBuf>,
    // Owner lease.
    /// The owner lease was taken over from an earlier owner (dead, or on another host
    /// with `force_takeover`); `None` when the lease was free or already this process's.
    pub lease_takeover: Option<crate::lease::LeaseTakeover>,
    // Segment summaries.
    /// Sealed segments folded from their summary file (`.sum`) without reading their
    /// entries.
    pub segments_summarized: usize,
    /// Sealed segments read frame by frame instead, each with why its summary was not
    /// used (missing, checksum, mismatch, too large, unreadable).
    pub summary_fallbacks: Vec<crate::summary::SummaryFallback>,
    /// Summary files removed: orphans whose segment is gone, temporaries of a write that
    /// never finished, and summaries of segments at or after a first invalid frame. In a
    /// dry run, the files opening would remove.
    pub summaries_removed: Vec<PathBuf>,
    // Clean shutdown.
    /// The end was taken from the clean-shutdown file a clean close left
    /// (`journal.clean`): the rest of the last segment was not read.
    pub clean_shutdown: bool,
    /// A clean-shutdown file that was found and removed but not used, with why.
    pub clean_shutdown_ignored: Option<String>,
}

/// A segment as recovery found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentInfo {
    /// The file.
    pub path: PathBuf,
    /// LSN of its first data byte.
    pub base_lsn: Lsn,
    /// LSN just past its data area.
    pub end_lsn: Lsn,
    /// File size, header included.
    pub size_bytes: u64,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
}

/// What [`inspect`] found: what opening would do, without doing it.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// The journal's identity.
    pub journal_id: u128,
    /// The report opening would produce (`dry_run` is set; nothing was changed).
    pub report: RecoveryReport,
    /// The state the recovered prefix folds to.
    pub state: State,
}
