//! `Error`: every way the journal can fail, with the fields a user needs to act, and
//! messages that say what to do next.

use std::io;
use std::path::PathBuf;

use crate::lsn::Lsn;

mod display;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed.
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// What was being done ("create segment", "msync", …).
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The disk is full; nothing acknowledged was lost.
    StorageFull {
        /// File that could not be created or extended.
        path: PathBuf,
        /// Bytes that were asked for.
        bytes: u64,
    },
    /// A roll-over would take the segment files over `Options::max_segment_bytes`, and a
    /// compaction run first could not retire enough; nothing acknowledged was lost.
    SegmentLimit {
        /// The journal directory.
        dir: PathBuf,
        /// The bound.
        limit: u64,
        /// Bytes the segment files would take with the next segment.
        needed: u64,
        /// The compaction's floor: segments from it on are still needed.
        floor: Lsn,
        /// The oldest LSN still in the journal.
        first: Lsn,
    },
    /// Another handle (this process or another) holds the journal's writer lock.
    Locked {
        /// The lock file.
        path: PathBuf,
        /// `host:pid` of the holder, as it wrote it.
        holder: String,
    },
    /// A file was written by a newer (or unknown) format version.
    UpgradeRequired {
        /// The file.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// A file belongs to another journal.
    ForeignJournal {
        /// The file.
        path: PathBuf,
        /// This journal's id.
        expected: u128,
        /// The file's id.
        found: u128,
    },
    /// Data the journal had acknowledged as durable is damaged.
    Corrupted(Corruption),
    /// `RecoveryMode::Strict` found a torn tail (a write that never completed).
    TornTail {
        /// Segment file.
        path: PathBuf,
        /// LSN of the first invalid frame.
        lsn: Lsn,
    },
    /// An earlier msync/fsync failed; nothing after it can be acknowledged.
    Poisoned {
        /// The durable frontier when the failure happened: data below it is safe.
        durable: Lsn,
        /// What failed.
        cause: String,
    },
    /// An option or argument is invalid.
    InvalidOptions {
        /// The field.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A frame or record is too large for the limits or the segment size.
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size in bytes.
        bytes: u64,
        /// The largest allowed.
        max: u64,
    },
    /// The directory holds no journal and `create_if_missing` is off.
    NotFound {
        /// The directory.
        path: PathBuf,
    },
    /// An LSN that is not the start of a frame in this journal.
    InvalidLsn {
        /// The LSN asked for.
        lsn: Lsn,
        /// Oldest LSN still in the journal.
        first: Lsn,
        /// Next LSN to be written.
        end: Lsn,
    },
    // Compaction.
    /// The segments start after LSN 0, so the state before them must come from a
    /// snapshot, and no snapshot that validates covers them.
    SnapshotMissing {
        /// The journal directory.
        dir: PathBuf,
        /// LSN the first segment starts at (or, with no segment left, the newest
        /// snapshot's LSN).
        first_lsn: Lsn,
        /// Each snapshot tried and why it was not usable.
        tried: Vec<String>,
    },
    /// A read asked for frames that compaction has folded into a snapshot and retired.
    Compacted {
        /// The LSN asked for.
        requested: Lsn,
        /// Oldest LSN still in the journal.
        oldest_available: Lsn,
        /// The newest snapshot's LSN: the state up to it is in [`crate::Journal::state`].
        snapshot_lsn: Lsn,
    },
    // Archiving to object storage (feature `object-store`, src/archive/).
    /// Another archiver advanced the remote manifest past this one (a newer epoch or
    /// another writer): this archiver has stopped and will never write the manifest again.
    Fenced {
        /// The manifest key.
        key: String,
        /// This archiver's epoch.
        epoch: u64,
        /// The epoch found in the manifest.
        found_epoch: u64,
    },
    /// The object store accepted a write its precondition should have refused, so it
    /// cannot fence a second writer.
    PreconditionsIgnored {
        /// The store (its `Display`).
        store: String,
        /// Which precondition was ignored.
        detail: &'static str,
    },
    /// An object-store request failed (after the bounded retries of a transient error).
    Remote {
        /// What was being done ("put segment", "get manifest", …).
        op: &'static str,
        /// The object key.
        key: String,
        /// The store's error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// An object read from the store is missing, damaged, or not what the manifest says.
    RemoteCorrupt {
        /// The object key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    // Checkpoint coordination (src/coordinator.rs, src/cursor.rs); texts in
    // `coordinator::error_text`.
    /// Every id of a registry is taken (source and sink ids are `u16`).
    RegistryFull {
        /// `"source"` or `"sink"`.
        what: &'static str,
        /// The name that could not be registered.
        name: String,
        /// How many names the registry holds.
        max: usize,
    },
    /// A checkpoint would move a source's committed event count backwards.
    NonMonotonic {
        /// The source's name.
        source: String,
        /// The committed count.
        previous: u64,
        /// The count offered.
        next: u64,
    },
    /// A checkpoint offers a source's committed count with another offset than the one
    /// already committed for that count.
    ProgressConflict {
        /// The source's name.
        source: String,
        /// The committed event count both name.
        count: u64,
        /// The committed offset.
        committed: Vec<u8>,
        /// The offset offered.
        offered: Vec<u8>,
    },
    /// Progress of a source family other than the one the journal holds.
    MixedFamily {
        /// The journal's directory.
        path: PathBuf,
        /// The journal's family.
        journal: String,
        /// The family offered.
        offered: String,
    },
    /// A cursor record written for another journal.
    ForeignCursor {
        /// The journal's directory.
        path: PathBuf,
        /// The cursor's name.
        name: String,
        /// This journal's id.
        expected: u128,
        /// The id the record names.
        found: u128,
    },
    // Owner lease.
    /// The owner lease file (`journal.lease`) cannot be decoded, so who owns the
    /// journal is unknown and opening it is refused.
    LeaseUnreadable {
        /// The lease file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where and how acknowledged data is damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The file.
    pub path: PathBuf,
    /// LSN of the damaged frame (or of the segment's base for header damage).
    pub lsn: Lsn,
    /// Byte offset in the file.
    pub offset: u64,
    /// What is wrong.
    pub kind: CorruptionKind,
}

/// What is wrong with damaged data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// A frame below the durable frontier fails its checksum or its fields.
    Frame(crate::format::frame::FrameFault),
    /// A checkpoint frame's checksum is valid but its record does not decode.
    Checkpoint(String),
    /// A segment header is damaged.
    SegmentHeader(crate::format::segment_header::HeaderFault),
    /// A frame with a valid checksum has a kind or flags this version does not define.
    UnknownFrame {
        /// The kind byte.
        kind: u8,
    },
    /// Segment files do not form a contiguous LSN sequence.
    Gap {
        /// LSN the next segment should start at.
        expected: Lsn,
    },
    /// A segment's file name disagrees with its header, or its size with the file.
    Inconsistent(&'static str),
    /// A meta frame's checksum is valid but its record does not decode.
    Meta(String),
}

impl Error {
    /// Wraps an I/O error with its path and operation, recognising a full disk.
    #[must_use]
    pub fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            op,
            source,
        }
    }

    /// Whether this error is a full disk, in either wrapping, or the journal's own bound
    /// on segment bytes ([`Error::SegmentLimit`]).
    #[must_use]
    pub fn is_storage_full(&self) -> bool {
        match self {
            Error::StorageFull { .. } | Error::SegmentLimit { .. } => true,
            Error::Io { source, .. } => source.kind() == io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}
